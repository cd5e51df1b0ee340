"""Kvasir / MICS gastroscopy dataset with several co-registered modalities."""
import logging
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import mmengine
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mics_mm.registry import DATASETS

from .layouts import (DEFAULT_IMAGE_EXTS, DEFAULT_MODALITIES, LAYOUTS,
                     PAIRINGS, check_data_root, check_modalities, scan_layout,
                     verify_image_files)

__all__ = ['KvasirDataset']

_ERR = 'KvasirDataset: '


@DATASETS.register_module()
class KvasirDataset(BaseDataset):
    """Gastroscopy images with several modalities (WLI, NBI, ...).

    Three sources, read as they are distributed:

    - Kvasir v1/v2 (WLI only): ``<data_root>/<class>/*.jpg``. ``img_path``
      holds only ``modalities[0]``; the other modalities are made later by a
      transform (simulated NBI).
    - MICS paired layout: ``<data_root>/<split>/<class>_<MOD>/*`` with
      ``MOD`` the upper-cased modality (``polyps_WLI``, ``polyps_NBI``).
    - Split files written by ``tools/data/make_splits.py`` (``ann_file``,
      mmengine's JSON format, image paths relative to ``data_root``). When
      given, ``ann_file`` wins over scanning and ``split`` is not used.

    Each item of ``data_list`` is ``dict(img_path={modality: absolute path},
    gt_label=int, modalities=self.modalities)`` (mmengine adds
    ``sample_idx``). ``metainfo`` holds ``classes`` and ``modalities``.

    Only files whose extension is in ``image_exts`` are read; other files,
    hidden entries and folders named ``splits`` are ignored. Bad layouts
    (missing folders, unknown or empty class folders, unpaired files, ...)
    raise ``FileNotFoundError`` / ``ValueError`` at ``full_init`` with a
    message that starts with ``'KvasirDataset: '``, names the path and
    says what to do. Unreadable image *contents* are found by
    :meth:`verify_images` or by the loading transform.

    The Kvasir layout has no split folders: without ``ann_file`` every image
    is read (a warning says so unless ``split=None``); use the split files
    for train/val/test.

    Args:
        data_root (str): Dataset folder. Defaults to ''.
        ann_file (str): Split file, relative to ``data_root`` unless
            absolute; '' scans the folders. Defaults to ''.
        split (str, optional): Split folder of the paired layout. Defaults to
            ``'train'``.
        modalities (Sequence[str]): All modalities a sample has after the
            pipeline, lower-case. Defaults to ``('wli', 'nbi')``.
        classes (str | Sequence[str], optional): Class names (or a file with
            one per line); the label is the position in it. None: the sorted
            class folder names (or the ann_file's classes). Defaults to None.
        layout (str): ``'auto'``, ``'kvasir'`` or ``'paired'``; ``'auto'``
            picks ``'paired'`` when a sub-folder of ``data_root`` holds
            ``<class>_<MOD>`` folders. Defaults to ``'auto'``.
        pairing (str): Paired layout: ``'name'`` matches files by stem with
            modality tokens removed (``0001_wli.png`` ~ ``0001_nbi.png``),
            ``'order'`` by sorted order. Defaults to ``'name'``.
        image_exts (Sequence[str]): Extensions read as images. Defaults to
            ``('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')``.
        metainfo (dict, optional): Extra meta information. Defaults to None.
        pipeline (Sequence): Transforms. Defaults to ``()``.
        test_mode (bool): Test mode. Defaults to False.
        lazy_init (bool): Defer reading until :meth:`full_init`. Defaults to
            False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``indices``, ``serialize_data``, ...).
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 split: Optional[str] = 'train',
                 modalities: Sequence[str] = DEFAULT_MODALITIES,
                 classes: Union[str, Sequence[str], None] = None,
                 layout: str = 'auto',
                 pairing: str = 'name',
                 image_exts: Sequence[str] = DEFAULT_IMAGE_EXTS,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs) -> None:
        self.modalities = check_modalities(modalities)
        for value, choices, name in ((layout, LAYOUTS, 'layout'),
                                     (pairing, PAIRINGS, 'pairing')):
            if value not in choices:
                raise ValueError(
                    f'{_ERR}{name}={value!r} is not one of {choices}.')
        self.split = split
        self.layout = layout
        self.pairing = pairing
        self.image_exts = tuple(image_exts)
        #: Layout actually read (``'kvasir'``, ``'paired'`` or
        #: ``'ann_file'``); set by :meth:`full_init`.
        self.source_layout: Optional[str] = None
        metainfo = dict(metainfo or {})
        if 'modalities' in metainfo and tuple(
                metainfo['modalities']) != self.modalities:
            raise ValueError(
                f"{_ERR}metainfo['modalities']={metainfo['modalities']} "
                f'differs from modalities={self.modalities}; set only '
                f'modalities=.')
        metainfo['modalities'] = self.modalities
        data_root = osp.expanduser(data_root) if data_root else data_root
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            classes=classes,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the ann_file or scan the folders.

        Returns:
            list[dict]: The samples (see the class docstring).
        """
        classes = self._metainfo.get('classes')
        classes = tuple(classes) if classes is not None else None
        if self.data_root or not self.ann_file:
            check_data_root(self.data_root)
        if self.ann_file:
            classes, samples = self._load_ann_file(classes)
            self.source_layout = 'ann_file'
            where = repr(self.ann_file)
        else:
            found = scan_layout(
                self.data_root,
                split=self.split,
                layout=self.layout,
                modalities=self.modalities,
                classes=classes,
                pairing=self.pairing,
                image_exts=self.image_exts)
            classes, samples = found.classes, found.samples
            self.source_layout = found.layout
            where = repr(self.data_root)
            if found.layout == 'kvasir' and self.split is not None:
                print_log(
                    f'KvasirDataset: {self.data_root!r} has the WLI-only '
                    f'Kvasir layout (no split folders), so all '
                    f'{len(samples)} images are read and split='
                    f'{self.split!r} is not applied. For train/val/test run '
                    f'`python tools/data/make_splits.py --data-root '
                    f"{self.data_root}` and pass ann_file='splits/"
                    f"{self.split}.json'.",
                    logger='current',
                    level=logging.WARNING)
        if not samples:
            raise ValueError(f'{_ERR}no samples found in {where}.')
        self._metainfo['classes'] = tuple(classes)
        return [
            dict(
                img_path=s['img_path'],
                gt_label=int(s['gt_label']),
                modalities=self.modalities) for s in samples
        ]

    def _load_ann_file(self, classes: Optional[Tuple[str, ...]]
                       ) -> Tuple[Tuple[str, ...], List[dict]]:
        """Read and check a split file.

        Args:
            classes (tuple[str], optional): Classes given by the user; labels
                of the file are re-mapped to them by name.

        Returns:
            tuple: The classes and the samples (absolute paths).
        """
        ann_file = self.ann_file
        how = ('`python tools/data/make_splits.py --data-root '
               f'{self.data_root or "<data_root>"}`')
        if not osp.isfile(ann_file):
            raise FileNotFoundError(
                f'{_ERR}annotation file {ann_file!r} not found; write the '
                f'split files with {how} (they go to <data_root>/splits/), or '
                f'fix ann_file (relative to data_root unless absolute).')
        try:
            content = mmengine.load(ann_file, file_format='json')
        except Exception as err:  # noqa: BLE001  (any parse error)
            raise ValueError(f'{_ERR}cannot read {ann_file!r} as JSON '
                             f'({err}); re-create it with {how}.') from err
        if not isinstance(content, dict) or not isinstance(
                content.get('data_list'), list):
            raise ValueError(
                f'{_ERR}{ann_file!r} is not an mmengine annotation file (a '
                f'dict with a "data_list" list); re-create it with {how}.')
        file_meta = content.get('metainfo') or {}
        file_classes = file_meta.get('classes')
        if classes is None:
            if file_classes is None:
                raise ValueError(
                    f'{_ERR}{ann_file!r} has no metainfo.classes; pass '
                    f'classes=(...).')
            classes = tuple(file_classes)
        for key, value in file_meta.items():
            if key not in ('classes', 'modalities'):
                self._metainfo.setdefault(key, value)
        file_classes = tuple(file_classes or classes)

        raw = content['data_list']
        if not raw:
            raise ValueError(
                f'{_ERR}{ann_file!r} has no samples (empty data_list); '
                f're-create it with {how}.')
        samples = []
        for i, entry in enumerate(raw):
            where = f'entry {i} of {ann_file!r}'
            paths = entry.get('img_path') if isinstance(entry, dict) else None
            if isinstance(paths, str):
                paths = {self.modalities[0]: paths}
            if not isinstance(paths, dict) or not paths:
                raise ValueError(f'{_ERR}{where} has no img_path dict '
                                 f'(modality -> path).')
            img_path = {}
            for mod, path in paths.items():
                if mod not in self.modalities:
                    raise ValueError(
                        f'{_ERR}{where} has modality {mod!r}, which is not in '
                        f'modalities={self.modalities}; pass modalities= '
                        f'including it, or re-create the file with '
                        f'--modalities.')
                path = osp.expanduser(path)
                if not osp.isabs(path):
                    path = osp.join(self.data_root, path)
                path = osp.abspath(path)
                if not osp.isfile(path):
                    raise FileNotFoundError(
                        f'{_ERR}image {path!r} listed in {where} does not '
                        f'exist; check data_root (image paths in the file '
                        f'are relative to it) or re-create the file with '
                        f'{how} --force.')
                img_path[mod] = path
            label = entry.get('gt_label')
            if isinstance(label, bool) or not isinstance(label, int) \
                    or not 0 <= label < len(file_classes):
                raise ValueError(
                    f'{_ERR}{where} has gt_label={label!r}; expected an int '
                    f'in [0, {len(file_classes)}).')
            name = file_classes[label]
            if name not in classes:
                raise ValueError(
                    f'{_ERR}{where} has class {name!r}, which is not one of '
                    f'the expected classes {classes}; pass classes= '
                    f'including it.')
            samples.append(
                dict(img_path=img_path, gt_label=classes.index(name)))
        return classes, samples

    def verify_images(self) -> None:
        """Decode every image of every modality with ``cv2.imread``.

        Raises:
            ValueError: Naming the first file that cannot be decoded.
        """
        verify_image_files(
            path for i in range(len(self))
            for path in self.get_data_info(i)['img_path'].values())

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'Data root: \t{self.data_root}',
            f'Annotation file: \t{self.ann_file}',
            f'Split: \t{self.split}',
            f'Layout: \t{self.source_layout or self.layout}',
            f'Modalities: \t{self.modalities}',
        ]
