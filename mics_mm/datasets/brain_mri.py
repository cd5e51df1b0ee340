"""Multi-parametric brain MRI studies (BraTS-style folders or a manifest)."""
import csv
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set, Tuple

from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset
from mics_mm.registry import DATASETS

from ..structures import MRI_MODALITIES, canonical_modality

__all__ = ['BrainMRIDataset']

_ERR = 'BrainMRIDataset: '
_NII_EXTS = ('.nii.gz', '.nii')
_LABEL_NAMES = ('seg', 'label')


def _strip_nii(name: str) -> Optional[str]:
    """Return ``name`` without its NIfTI extension, None if not NIfTI."""
    lower = name.lower()
    for ext in _NII_EXTS:
        if lower.endswith(ext):
            return name[:-len(ext)]
    return None


@DATASETS.register_module()
class BrainMRIDataset(BaseDataset):
    """Studies of co-registered brain MRI volumes (one NIfTI per modality).

    Two sources:

    - BraTS-style folders (no ``ann_file``):
      ``<data_root>/<case>/<case>_<modality>.nii[.gz]``. The modality token
      is what follows the case name (``_`` / ``-`` separated; BraTS 2023's
      ``BraTS-GLI-00000-000-t1c.nii.gz`` works too), or else what follows the
      last ``_``. The file whose token is ``label_key``, ``'seg'`` or
      ``'label'`` is the label map, not a modality.
    - A manifest ``ann_file`` (relative to ``data_root`` unless absolute):
      JSON ``[{"case": "c1", "images": {"t1": "c1/t1.nii.gz", ...},
      "label": "c1/seg.nii.gz"}]`` (``label`` optional) or CSV with header
      ``case,modality,path``, one row per file, modality ``label`` (or
      ``label_key``) for the label map. Relative paths are relative to
      ``data_root``.

    Modality names are mapped to :data:`MRI_MODALITIES` through
    :func:`canonical_modality` (case-insensitive aliases such as ``t1ce``,
    ``t2f``, ``t1n``). ``modalities=None`` keeps what each study has; a
    sequence keeps only those modalities and requires every study to have
    all of them, unless ``allow_missing`` (downstream tasks where BrainMVP's
    templates substitute a missing modality): then a study needs at least
    one of them and ``ArrangeModalities`` puts the channels in order.

    Class labels (classification): a JSON manifest entry may carry
    ``"gt_label"`` (an index or a name of ``classes``), and ``labels_file``
    (a CSV with header ``case,gt_label``, relative to ``data_root``) labels
    studies of any source. Once any study has a label, every study must.

    Each item of ``data_list`` is ``dict(img_path={modality: absolute path},
    seg_path=str | None, case=str, modalities=tuple)`` (plus ``gt_label``
    when labelled), modalities present in vocabulary order.
    ``metainfo['modalities']`` is the vocabulary (or the requested
    ``modalities``); ``metainfo['classes']`` the class names, if given.

    Keeping evaluation studies out (pre-training): ``exclude_files`` names
    manifests (e.g. the ``seg_val.json`` / ``seg_test.json`` of
    ``tools/data/make_mri_splits.py``) whose studies are left out, matched
    by case name or by image file; the log says how many and from which
    files (a listed file that does not exist is skipped). With
    ``missing_ann_file='scan'`` an ``ann_file`` that does not exist is not
    an error: the case folders under ``data_root`` are scanned instead,
    with a warning that validation / test studies may be included unless
    ``exclude_files`` removed them. The BrainMVP pre-training configs read
    ``pretrain.json`` this way (docs/data.md, "Writing the MRI splits").

    Errors are raised at init (``FileNotFoundError`` / ``ValueError``, the
    message starts with ``'BrainMRIDataset: '``, names the path and says
    what to do): missing ``data_root``, a case folder without NIfTI files,
    a manifest that is empty or references a missing file, an unknown
    modality, a study lacking a required modality, an unknown class name or
    a study without a label when others have one.

    Args:
        data_root (str): Dataset folder. Defaults to ''.
        ann_file (str): Manifest (``.json`` or ``.csv``); '' scans the
            folders. Defaults to ''.
        modalities (Sequence[str], optional): Modalities to keep and
            require; None keeps all. Defaults to None.
        label_key (str): Modality token of the label file. Defaults to
            ``'seg'``.
        allow_missing (bool): With ``modalities``, keep studies that lack
            some of them (not all). Defaults to False.
        labels_file (str): CSV ``case,gt_label`` of class labels; '' for
            none. Defaults to ''.
        missing_ann_file (str): When ``ann_file`` does not exist:
            ``'error'`` raises, ``'scan'`` scans the case folders with a
            warning. Defaults to 'error'.
        exclude_files (Sequence[str]): Manifests (JSON or CSV, relative to
            ``data_root`` unless absolute) whose studies are left out.
            Defaults to ``()``.
        pipeline (Sequence): Transforms. Defaults to ``()``.
        test_mode (bool): Test mode. Defaults to False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 modalities: Optional[Sequence[str]] = None,
                 label_key: str = 'seg',
                 allow_missing: bool = False,
                 labels_file: str = '',
                 missing_ann_file: str = 'error',
                 exclude_files: Sequence[str] = (),
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if missing_ann_file not in ('error', 'scan'):
            raise ValueError(f"{_ERR}missing_ann_file must be 'error' or "
                             f"'scan', got {missing_ann_file!r}.")
        if isinstance(exclude_files, str):
            exclude_files = (exclude_files, )
        self.missing_ann_file = missing_ann_file
        self.exclude_files = tuple(exclude_files)
        if isinstance(modalities, str):
            modalities = (modalities, )
        if modalities is not None:
            try:
                wanted = {canonical_modality(m) for m in modalities}
            except ValueError as err:
                raise ValueError(f'{_ERR}modalities={modalities!r}: {err}')
            if not wanted:
                raise ValueError(f'{_ERR}modalities is empty; pass None to '
                                 'keep every modality.')
            modalities = tuple(m for m in MRI_MODALITIES if m in wanted)
        self.modalities = modalities
        self.label_key = str(label_key).lower()
        self.allow_missing = bool(allow_missing)
        self.labels_file = labels_file
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.setdefault('modalities', modalities or MRI_MODALITIES)
        data_root = osp.expanduser(data_root) if data_root else data_root
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    # ------------------------------------------------------------------ #
    def load_data_list(self) -> List[dict]:
        """Scan the folders or read the manifest.

        Returns:
            list[dict]: The studies (see the class docstring).
        """
        if self.data_root and not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{_ERR}data_root {self.data_root!r} does not exist or is '
                'not a folder; give the folder holding one sub-folder per '
                'case (or the root the manifest paths are relative to).')
        scanned = not self.ann_file or (self.missing_ann_file == 'scan'
                                         and not osp.isfile(self.ann_file))
        if not scanned:
            studies = self._read_manifest(self.ann_file)
        else:
            if not self.data_root:
                raise FileNotFoundError(
                    f'{_ERR}data_root is empty and no ann_file is given; '
                    'give the folder holding <case>/<case>_<modality>.nii.gz '
                    'or a manifest (ann_file).')
            studies = self._scan_folders(self.data_root)
        if not studies:
            raise ValueError(f'{_ERR}no study found in '
                             f'{self.ann_file or self.data_root!r}.')
        studies = self._exclude(studies, scanned)
        infos = [self._finish(*s) for s in studies]
        self._attach_labels(infos)
        return infos

    # --------------------------------------------------------- exclusion
    def _path(self, path: str) -> str:
        """``path`` made absolute (relative to ``data_root``)."""
        path = osp.expanduser(str(path))
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        return osp.abspath(path)

    def _listed(self, path: str) -> Tuple[Set[str], Set[str]]:
        """Case names and image / label files listed in a manifest."""
        cases, files = set(), set()
        if path.lower().endswith('.csv'):
            with open(path, newline='') as f:
                reader = csv.DictReader(f)
                header = [h.strip().lower() for h in reader.fieldnames or []]
                if 'case' not in header and 'path' not in header:
                    raise ValueError(
                        f'{_ERR}exclude file {path!r} needs a CSV header '
                        f'with case (and path) columns (got {header}).')
                for row in reader:
                    row = {k.strip().lower(): (v or '').strip()
                           for k, v in row.items() if k}
                    if row.get('case'):
                        cases.add(row['case'])
                    if row.get('path'):
                        files.add(self._path(row['path']))
            return cases, files
        try:
            with open(path) as f:
                content = json.load(f)
        except ValueError as err:
            raise ValueError(f'{_ERR}cannot read exclude file {path!r} as '
                             f'JSON ({err}); fix or regenerate it.') from err
        if isinstance(content, dict):
            content = content.get('data_list', content.get('studies'))
        if not isinstance(content, list):
            raise ValueError(
                f'{_ERR}exclude file {path!r} must be a JSON list of '
                '{"case", "images", "label"} dicts (a manifest).')
        for entry in content:
            if not isinstance(entry, dict):
                continue
            if entry.get('case') is not None:
                cases.add(str(entry['case']))
            images = entry.get('images')
            if isinstance(images, dict):
                files.update(self._path(p) for p in images.values())
        return cases, files

    def _exclude(self, studies: list, scanned: bool) -> list:
        """Drop the studies listed in ``exclude_files``; log what is read."""
        found = [p for p in map(self._path, self.exclude_files)
                 if osp.isfile(p)]
        cases, files = set(), set()
        for path in found:
            c, f = self._listed(path)
            cases |= c
            files |= f
        kept, dropped = [], []
        for study in studies:
            case, images = study[:2]
            if case in cases or set(images.values()) & files:
                dropped.append(case)
            else:
                kept.append(study)
        names = [osp.basename(p) for p in found]
        source = (f'the case folders under {self.data_root!r}'
                  if scanned else f'manifest {self.ann_file!r}')
        if not kept:
            raise ValueError(
                f'{_ERR}every study of {source} is listed in {names}; '
                'nothing is left to train on. Check exclude_files and the '
                'split files.')
        left_out = (f', {len(dropped)} left out as listed in {names}'
                    if found else '')
        if dropped and not scanned:
            print_log(
                f'{_ERR}manifest {self.ann_file!r} lists {len(dropped)} '
                f'studies that {names} list too ({dropped[:5]}); they are '
                'left out. The split files are out of step: regenerate '
                'them (tools/data/make_mri_splits.py --force).',
                logger='current',
                level=logging.WARNING)
        if scanned and self.ann_file:
            risk = ''
            if not self.exclude_files or len(found) < len(self.exclude_files):
                risk = ' Validation / test studies may be included.'
            print_log(
                f'{_ERR}split file {self.ann_file!r} not found: reading '
                f'every case folder under {self.data_root!r} instead '
                f'({len(kept)} studies{left_out}).{risk} Write the splits '
                'with `python tools/data/make_mri_splits.py --data-root '
                f'{self.data_root}` to pre-train on the training cases '
                'only.',
                logger='current',
                level=logging.WARNING)
        else:
            print_log(f'{_ERR}{len(kept)} studies from {source}'
                      f'{left_out}.', logger='current', level=logging.INFO)
        return kept

    # ------------------------------------------------------------ labels
    def _class_index(self, value, where: str) -> int:
        """A class index from an int or a class name."""
        classes = self._metainfo.get('classes')
        if isinstance(value, str) and not value.strip().lstrip('-').isdigit():
            if not classes or value not in classes:
                raise ValueError(
                    f'{_ERR}{where} has class {value!r}, which is not in '
                    f'classes={classes}; fix the label or set '
                    'metainfo=dict(classes=[...]).')
            return list(classes).index(value)
        index = int(value)
        if index < 0 or (classes and index >= len(classes)):
            raise ValueError(f'{_ERR}{where} has class index {index}, '
                             f'outside 0..{len(classes or ()) - 1}.')
        return index

    def _attach_labels(self, infos: List[dict]) -> None:
        """Class labels from the manifest and / or ``labels_file``."""
        if self.labels_file:
            path = self.labels_file
            if not osp.isabs(path) and self.data_root:
                path = osp.join(self.data_root, path)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{_ERR}labels_file {path!r} not found; give a CSV with '
                    'header case,gt_label (relative to data_root).')
            with open(path, newline='') as f:
                reader = csv.DictReader(f)
                header = [h.strip().lower() for h in reader.fieldnames or []]
                if not {'case', 'gt_label'} <= set(header):
                    raise ValueError(f'{_ERR}labels_file {path!r} needs the '
                                     f'CSV header case,gt_label (got '
                                     f'{header}).')
                table = {}
                for i, row in enumerate(reader):
                    row = {k.strip().lower(): (v or '').strip()
                           for k, v in row.items() if k}
                    table[row['case']] = (row['gt_label'],
                                          f'row {i + 2} of {path!r}')
            for info in infos:
                if info['case'] in table:
                    value, where = table[info['case']]
                    info['gt_label'] = self._class_index(value, where)
        labelled = [i for i in infos if 'gt_label' in i]
        if labelled and len(labelled) != len(infos):
            missing = [i['case'] for i in infos if 'gt_label' not in i]
            raise ValueError(
                f'{_ERR}studies {missing[:5]} have no class label while '
                f'{len(labelled)} others do; label every study '
                f'({self.labels_file or self.ann_file!r}).')

    def _is_label(self, token: str) -> bool:
        token = token.lower()
        return token == self.label_key or token in _LABEL_NAMES

    def _finish(self, case: str, images: Dict[str, str],
                label: Optional[str], where: str,
                gt_label=None) -> dict:
        """Filter / order the modalities of one study into a data_info."""
        if self.modalities is not None:
            missing = [m for m in self.modalities if m not in images]
            if missing and not self.allow_missing:
                raise ValueError(
                    f'{_ERR}study {case!r} ({where}) lacks modalities '
                    f'{missing} (it has {sorted(images)}); add the files or '
                    f'drop them from modalities=.')
            keep = self.modalities
        else:
            keep = MRI_MODALITIES
        mods = tuple(m for m in keep if m in images)
        if not mods:
            wanted = f' of {self.modalities}' if self.modalities else ''
            raise ValueError(f'{_ERR}study {case!r} ({where}) has no '
                             f'modality image{wanted}; add the images.')
        info = dict(
            img_path={m: images[m]
                      for m in mods},
            seg_path=label,
            case=case,
            modalities=mods)
        if gt_label is not None:
            info['gt_label'] = self._class_index(gt_label, where)
        return info

    def _modality_of(self, name: str, path: str) -> str:
        try:
            return canonical_modality(name)
        except ValueError as err:
            raise ValueError(
                f'{_ERR}file {path!r} has modality {name!r}: {err} Rename '
                'the file or add the spelling to MODALITY_ALIASES.') from None

    def _scan_folders(self, root: str) -> list:
        studies = []
        for case in sorted(os.listdir(root)):
            folder = osp.join(root, case)
            if case.startswith('.') or not osp.isdir(folder):
                continue
            images, label = {}, None
            for fname in sorted(os.listdir(folder)):
                stem = _strip_nii(fname)
                if stem is None or fname.startswith('.'):
                    continue
                path = osp.abspath(osp.join(folder, fname))
                if stem.lower().startswith(case.lower()) and \
                        len(stem) > len(case):
                    token = stem[len(case):].lstrip('_-.')
                else:
                    token = stem.rsplit('_', 1)[-1]
                if self._is_label(token):
                    label = path
                    continue
                mod = self._modality_of(token, path)
                if mod in images:
                    raise ValueError(
                        f'{_ERR}case folder {folder!r} has two {mod} files '
                        f'({images[mod]!r} and {path!r}); keep one.')
                images[mod] = path
            if not images and label is None:
                raise FileNotFoundError(
                    f'{_ERR}case folder {folder!r} holds no NIfTI file '
                    f'(.nii / .nii.gz); remove it or add '
                    f'{case}_<modality>.nii.gz files.')
            studies.append((case, images, label, f'folder {folder!r}', None))
        return studies

    def _resolve(self, path: str, where: str) -> str:
        path = osp.expanduser(str(path))
        if not osp.isabs(path):
            path = osp.join(self.data_root, path)
        path = osp.abspath(path)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{_ERR}file {path!r} listed in {where} does not exist; fix '
                'the manifest or data_root (relative paths are relative to '
                'data_root).')
        return path

    def _read_manifest(self, ann_file: str) -> list:
        if not osp.isfile(ann_file):
            raise FileNotFoundError(
                f'{_ERR}manifest {ann_file!r} not found; fix ann_file '
                '(relative to data_root unless absolute).')
        rows: Dict[str, list] = {}
        classes: Dict[str, tuple] = {}
        if ann_file.lower().endswith('.csv'):
            with open(ann_file, newline='') as f:
                reader = csv.DictReader(f)
                header = [h.strip().lower() for h in reader.fieldnames or []]
                if not {'case', 'modality', 'path'} <= set(header):
                    raise ValueError(
                        f'{_ERR}manifest {ann_file!r} needs the CSV header '
                        f'case,modality,path (got {header}).')
                for i, row in enumerate(reader):
                    row = {k.strip().lower(): (v or '').strip()
                           for k, v in row.items() if k}
                    rows.setdefault(row['case'], []).append(
                        (row['modality'], row['path'],
                         f'row {i + 2} of {ann_file!r}'))
        else:
            try:
                with open(ann_file) as f:
                    content = json.load(f)
            except ValueError as err:
                raise ValueError(f'{_ERR}cannot read manifest {ann_file!r} '
                                 f'as JSON ({err}); fix the file.') from err
            if isinstance(content, dict):
                content = content.get('data_list', content.get('studies'))
            if not isinstance(content, list):
                raise ValueError(
                    f'{_ERR}manifest {ann_file!r} must be a JSON list of '
                    '{"case", "images", "label"} dicts.')
            for i, entry in enumerate(content):
                where = f'entry {i} of {ann_file!r}'
                if not isinstance(entry, dict) or not isinstance(
                        entry.get('images'), dict):
                    raise ValueError(f'{_ERR}{where} needs an "images" dict '
                                     'modality -> path.')
                case = str(entry.get('case', f'study{i}'))
                items = [(m, p, where) for m, p in entry['images'].items()]
                if entry.get('label'):
                    items.append(('label', entry['label'], where))
                rows.setdefault(case, []).extend(items)
                if entry.get('gt_label') is not None:
                    classes[case] = (entry['gt_label'], where)
        if not rows:
            raise ValueError(f'{_ERR}manifest {ann_file!r} lists no study; '
                             'add at least one.')
        studies = []
        for case, items in rows.items():
            images, label = {}, None
            for name, path, where in items:
                path = self._resolve(path, where)
                if self._is_label(str(name)):
                    label = path
                else:
                    images[self._modality_of(name, path)] = path
            gt_label, where = classes.get(case, (None, ann_file))
            studies.append((case, images, label, f'manifest {ann_file!r}',
                            gt_label))
        return studies

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'Data root: \t{self.data_root}',
            f'Annotation file: \t{self.ann_file}',
            f'Modalities: \t{self.modalities or "all present"}',
            f'Excluded studies of: \t{list(self.exclude_files)}',
        ]
