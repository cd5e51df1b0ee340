"""Scanning the Kvasir / MICS image layouts on disk.

One implementation of layout scanning serves both
:class:`mics_mm.datasets.KvasirDataset` and :func:`.splits.make_splits`
(``tools/data/make_splits.py``).

Layouts (``data_root`` is the folder given by the user):

- ``'kvasir'`` (Kvasir v1/v2, WLI only): ``<data_root>/<class>/*.jpg``. Only
  the first modality exists on disk; the others are made by transforms.
- ``'paired'`` (MICS): ``<data_root>/<split>/<class>_<MOD>/*`` where ``MOD``
  is the modality upper-cased (``polyps_WLI``, ``polyps_NBI``; the suffix is
  matched case-insensitively).

When scanning, hidden entries (names starting with ``.``), folders named
``splits`` (where split files live) and files whose extension is not in
``image_exts`` are ignored; sub-folders of a class folder are not descended
into.

Split files use mmengine's annotation format, with image paths relative to
``data_root``::

    {"metainfo": {"classes": [...], "modalities": ["wli", "nbi"]},
     "data_list": [{"img_path": {"wli": "polyps/0001.jpg"}, "gt_label": 6},
                   ...]}
"""
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2

from ..structures import ENDOSCOPY_MODALITIES

__all__ = [
    'DEFAULT_IMAGE_EXTS', 'DEFAULT_MODALITIES', 'LAYOUTS', 'PAIRINGS',
    'IGNORED_DIRS', 'SPLIT_NAMES', 'ScanResult', 'check_data_root',
    'check_modalities', 'check_choice', 'find_paired_splits',
    'detect_layout', 'pairing_key', 'scan_kvasir', 'scan_paired',
    'scan_layout', 'verify_image_files'
]

DEFAULT_IMAGE_EXTS: Tuple[str, ...] = ('.jpg', '.jpeg', '.png', '.bmp', '.tif',
                                       '.tiff')
DEFAULT_MODALITIES: Tuple[str, ...] = ENDOSCOPY_MODALITIES
LAYOUTS: Tuple[str, ...] = ('auto', 'kvasir', 'paired')
PAIRINGS: Tuple[str, ...] = ('name', 'order')
IGNORED_DIRS: Tuple[str, ...] = ('splits', )
SPLIT_NAMES: Tuple[str, ...] = ('train', 'val', 'test')

_ERR = 'KvasirDataset: '
_HOW_TO_GET_DATA = (
    'To use Kvasir, download it from https://datasets.simula.no/kvasir/ and '
    'unzip it so that the class folders (dyed-lifted-polyps/, ..., '
    'ulcerative-colitis/) are directly under that folder, then point the '
    'config at it with `--cfg-options '
    'train_dataloader.dataset.data_root=DIR`. To try the code without '
    'downloading anything, run the synthetic demo: `make demo` (or '
    '`python tools/data/make_demo_kvasir.py --out '
    'data/kvasir_demo_synthetic`).')


@dataclass
class ScanResult:
    """What scanning a layout found.

    Args:
        layout (str): The layout read, ``'kvasir'`` or ``'paired'``.
        classes (tuple[str]): Class names; ``gt_label`` indexes into them.
        samples (list[dict]): One dict per sample with ``img_path`` (dict
            modality -> absolute path, only the modalities on disk) and
            ``gt_label`` (int), ordered by class folder then file name.
    """

    layout: str
    classes: Tuple[str, ...]
    samples: List[dict]


# ---------------------------------------------------------------- helpers
def _visible_dirs(path: str, ignore_dirs: Iterable[str] = IGNORED_DIRS
                  ) -> List[str]:
    """Sorted names of the sub-folders of ``path``, hidden/ignored ones
    left out."""
    ignore = set(ignore_dirs)
    with os.scandir(path) as it:
        names = [
            e.name for e in it if e.is_dir() and not e.name.startswith('.')
            and e.name not in ignore
        ]
    return sorted(names)


def _image_files(folder: str, image_exts: Sequence[str]) -> List[str]:
    """Sorted names of the image files directly inside ``folder``."""
    exts = tuple(e.lower() for e in image_exts)
    with os.scandir(folder) as it:
        names = [
            e.name for e in it if e.is_file() and not e.name.startswith('.')
            and osp.splitext(e.name)[1].lower() in exts
        ]
    return sorted(names)


def _normalise_exts(image_exts: Sequence[str]) -> Tuple[str, ...]:
    """Lower-case extensions with a leading dot."""
    return tuple(e.lower() if e.startswith('.') else '.' + e.lower()
                 for e in image_exts)


def _empty_folder_error(folder: str, image_exts: Sequence[str]) -> ValueError:
    """The error for a class folder without image files."""
    msg = (f'{_ERR}class folder {folder!r} contains no image files (looked '
           f'for {", ".join(image_exts)}; other files are ignored). Add '
           f'images or remove the folder.')
    try:
        subdirs = _visible_dirs(folder, ())
    except OSError:
        subdirs = []
    if subdirs:
        msg += (f' It contains sub-folders ({", ".join(subdirs[:5])}): point '
                f'data_root at the folder that directly holds the class '
                f'folders.')
    return ValueError(msg)


def _match_modality_suffix(folder: str, modalities: Sequence[str]
                           ) -> Optional[Tuple[str, str]]:
    """Split ``'<class>_<MOD>'`` into ``(class, modality)`` (longest suffix
    wins); None when the folder has no modality suffix."""
    best: Optional[Tuple[str, str]] = None
    for mod in modalities:
        suffix = '_' + mod.upper()
        if (len(folder) > len(suffix) and folder.upper().endswith(suffix)
                and (best is None or len(mod) > len(best[1]))):
            best = (folder[:-len(suffix)], mod)
    return best


# ------------------------------------------------------------ validation
def check_data_root(data_root: str) -> str:
    """Check that ``data_root`` is an existing folder.

    Args:
        data_root (str): The dataset folder.

    Returns:
        str: ``data_root`` with ``~`` expanded.

    Raises:
        FileNotFoundError: If it is empty, missing or not a folder; the
            message says how to get Kvasir or run the synthetic demo.
    """
    if not data_root:
        raise FileNotFoundError(
            f'{_ERR}data_root is empty: give the folder that holds the '
            f'images. {_HOW_TO_GET_DATA}')
    data_root = osp.expanduser(str(data_root))
    if not osp.isdir(data_root):
        raise FileNotFoundError(
            f'{_ERR}data_root {data_root!r} does not exist or is not a '
            f'folder. {_HOW_TO_GET_DATA}')
    return data_root


def check_modalities(modalities: Sequence[str]) -> Tuple[str, ...]:
    """Check that ``modalities`` is a non-empty sequence of unique lower-case
    names.

    Args:
        modalities (Sequence[str]): Modality names, e.g. ``('wli', 'nbi')``.

    Returns:
        tuple[str]: The modalities as a tuple.

    Raises:
        ValueError: If the names are empty, repeated or not lower-case.
    """
    if isinstance(modalities, str):
        modalities = (modalities, )
    mods = tuple(modalities)
    if not mods:
        raise ValueError(f'{_ERR}modalities is empty; give e.g. '
                         f"('wli', 'nbi').")
    for mod in mods:
        if not isinstance(mod, str) or not mod or mod != mod.lower() \
                or not re.fullmatch(r'[a-z0-9_\-]+', mod):
            raise ValueError(
                f'{_ERR}modality {mod!r} in {mods} is not a lower-case name '
                f"(letters, digits, '_' or '-'), e.g. 'wli'.")
    if len(set(mods)) != len(mods):
        raise ValueError(f'{_ERR}modalities {mods} has repeated names.')
    return mods


def check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise ValueError(f'{_ERR}{name}={value!r} is not one of {choices}.')


# --------------------------------------------------------------- layouts
def find_paired_splits(data_root: str,
                       modalities: Sequence[str] = DEFAULT_MODALITIES,
                       ignore_dirs: Iterable[str] = IGNORED_DIRS
                       ) -> List[str]:
    """Names of the sub-folders of ``data_root`` holding ``<class>_<MOD>``
    folders (the split folders of the MICS paired layout).

    Args:
        data_root (str): The dataset folder.
        modalities (Sequence[str]): Modality names. Defaults to
            ``('wli', 'nbi')``.
        ignore_dirs (Iterable[str]): Folder names to skip. Defaults to
            ``('splits',)``.

    Returns:
        list[str]: Sorted split folder names (empty for the Kvasir layout).
    """
    found = []
    for name in _visible_dirs(data_root, ignore_dirs):
        subdirs = _visible_dirs(osp.join(data_root, name), ignore_dirs)
        if any(_match_modality_suffix(d, modalities) for d in subdirs):
            found.append(name)
    return found


def detect_layout(data_root: str,
                  modalities: Sequence[str] = DEFAULT_MODALITIES,
                  ignore_dirs: Iterable[str] = IGNORED_DIRS) -> str:
    """Pick ``'paired'`` or ``'kvasir'`` for ``layout='auto'``.

    The layout is ``'paired'`` when a sub-folder of ``data_root`` (e.g.
    ``train/``) holds ``<class>_<MOD>`` folders; a missing requested split is
    then reported by :func:`scan_paired`. Otherwise it is ``'kvasir'``.

    Args:
        data_root (str): The dataset folder.
        modalities (Sequence[str]): Modality names. Defaults to
            ``('wli', 'nbi')``.
        ignore_dirs (Iterable[str]): Folder names to skip. Defaults to
            ``('splits',)``.

    Returns:
        str: ``'paired'`` or ``'kvasir'``.

    Raises:
        ValueError: If ``<class>_<MOD>`` folders sit directly under
            ``data_root`` (paired layout without its split level).
    """
    if find_paired_splits(data_root, modalities, ignore_dirs):
        return 'paired'
    direct = [
        d for d in _visible_dirs(data_root, ignore_dirs)
        if _match_modality_suffix(d, modalities)
    ]
    if direct:
        raise ValueError(
            f'{_ERR}folders {direct[:5]} in {data_root!r} look like the MICS '
            f'paired layout (<class>_<MOD>) but are not inside a split '
            f'folder: move them into {osp.join(data_root, "train")!r} (and '
            f"val/, test/), or pass layout='kvasir' to read them as class "
            f'folders.')
    return 'kvasir'


def pairing_key(filename: str, modalities: Sequence[str]) -> str:
    """The name used to match the files of different modalities.

    The file stem is lower-cased, modality names not adjacent to other
    letters are removed (``0001_wli`` -> ``0001``, ``NBI-12`` -> ``12``) and
    runs of separators (``_ - . space``) are collapsed.

    Args:
        filename (str): File name or path.
        modalities (Sequence[str]): Modality names.

    Returns:
        str: The pairing key.
    """
    stem = osp.splitext(osp.basename(filename))[0].lower()
    alternatives = '|'.join(
        re.escape(m) for m in sorted(modalities, key=len, reverse=True))
    stem = re.sub(rf'(?<![a-z])(?:{alternatives})(?![a-z])', '', stem)
    return re.sub(r'[_\-. ]+', '_', stem).strip('_')


def scan_kvasir(data_root: str,
                modalities: Sequence[str] = DEFAULT_MODALITIES,
                classes: Optional[Sequence[str]] = None,
                image_exts: Sequence[str] = DEFAULT_IMAGE_EXTS,
                ignore_dirs: Iterable[str] = IGNORED_DIRS) -> ScanResult:
    """Read the Kvasir layout ``<data_root>/<class>/*.jpg`` (WLI only).

    Args:
        data_root (str): The folder that directly holds the class folders.
        modalities (Sequence[str]): Modality names; only the first is on
            disk. Defaults to ``('wli', 'nbi')``.
        classes (Sequence[str], optional): Expected classes; the label is the
            position in it. None: the sorted folder names. Defaults to None.
        image_exts (Sequence[str]): Extensions counted as images (others are
            ignored). Defaults to :data:`DEFAULT_IMAGE_EXTS`.
        ignore_dirs (Iterable[str]): Folder names to skip. Defaults to
            ``('splits',)``.

    Returns:
        ScanResult: The classes and samples.

    Raises:
        FileNotFoundError: If ``data_root`` is missing or has no class
            folders.
        ValueError: For a folder not in ``classes`` or without images.
    """
    data_root = check_data_root(data_root)
    mods = check_modalities(modalities)
    exts = _normalise_exts(image_exts)
    dirs = _visible_dirs(data_root, ignore_dirs)
    if not dirs:
        raise FileNotFoundError(
            f'{_ERR}no class folders found in {data_root!r}; the Kvasir '
            f'layout is <data_root>/<class>/*.jpg. {_HOW_TO_GET_DATA}')
    if classes is None:
        classes = tuple(dirs)
    else:
        classes = tuple(classes)
        unknown = [d for d in dirs if d not in classes]
        if unknown:
            raise ValueError(
                f'{_ERR}class folder {osp.join(data_root, unknown[0])!r} is '
                f'not one of the expected classes {classes} (unknown folders: '
                f'{unknown[:5]}); pass classes=(...) including it, or remove '
                f'the folder.')
    samples = []
    for name in dirs:
        folder = osp.join(data_root, name)
        files = _image_files(folder, exts)
        if not files:
            raise _empty_folder_error(folder, exts)
        label = classes.index(name)
        for fname in files:
            samples.append(
                dict(
                    img_path={mods[0]: osp.abspath(osp.join(folder, fname))},
                    gt_label=label))
    return ScanResult(layout='kvasir', classes=classes, samples=samples)


def _paired_folders(split_dir: str, modalities: Sequence[str],
                    ignore_dirs: Iterable[str]) -> Dict[str, Dict[str, str]]:
    """Map class -> modality -> folder for one split folder."""
    out: Dict[str, Dict[str, str]] = {}
    suffixes = [f'_{m.upper()}' for m in modalities]
    for name in _visible_dirs(split_dir, ignore_dirs):
        path = osp.join(split_dir, name)
        match = _match_modality_suffix(name, modalities)
        if match is None:
            raise ValueError(
                f'{_ERR}folder {path!r} does not end in a modality suffix '
                f'{suffixes}; the paired layout is '
                f'<data_root>/<split>/<class>_<MOD>/. Rename or remove it, or '
                f'check modalities=.')
        cls, mod = match
        if mod in out.setdefault(cls, {}):
            raise ValueError(
                f'{_ERR}folders {out[cls][mod]!r} and {path!r} are both class '
                f'{cls!r}, modality {mod!r}; merge or remove one.')
        out[cls][mod] = path
    return out


def _pair_files(folders: Mapping[str, str], modalities: Sequence[str],
                pairing: str,
                image_exts: Sequence[str]) -> List[Dict[str, str]]:
    """Pair the image files of one class; returns modality -> path dicts."""
    files = {}
    for mod in modalities:
        files[mod] = _image_files(folders[mod], image_exts)
        if not files[mod]:
            raise _empty_folder_error(folders[mod], image_exts)
    first = modalities[0]
    if pairing == 'order':
        for mod in modalities[1:]:
            if len(files[mod]) != len(files[first]):
                raise ValueError(
                    f"{_ERR}pairing='order' needs equal image counts, but "
                    f'{folders[first]!r} has {len(files[first])} and '
                    f'{folders[mod]!r} has {len(files[mod])}.')
        return [{
            mod: osp.abspath(osp.join(folders[mod], files[mod][i]))
            for mod in modalities
        } for i in range(len(files[first]))]

    keyed: Dict[str, Dict[str, str]] = {}
    for mod in modalities:
        keyed[mod] = {}
        for fname in files[mod]:
            key = pairing_key(fname, modalities)
            if key in keyed[mod]:
                raise ValueError(
                    f'{_ERR}files {keyed[mod][key]!r} and {fname!r} in '
                    f'{folders[mod]!r} have the same pairing name {key!r}; '
                    f"rename or remove one, or pass pairing='order'.")
            keyed[mod][key] = fname
    for mod in modalities[1:]:
        only_first = sorted(
            keyed[first][k] for k in set(keyed[first]) - set(keyed[mod]))
        only_mod = sorted(
            keyed[mod][k] for k in set(keyed[mod]) - set(keyed[first]))
        if only_first or only_mod:
            msg = (f'{_ERR}{folders[first]!r} ({len(files[first])} images) '
                   f'and {folders[mod]!r} ({len(files[mod])} images) do not '
                   f'pair by name (modality tokens removed): unmatched in '
                   f'{first}: {only_first[:5]}; unmatched in {mod}: '
                   f'{only_mod[:5]}.')
            if len(files[first]) == len(files[mod]):
                msg += (" The counts are equal: if the files correspond in "
                        "sorted order, pass pairing='order'.")
            else:
                msg += ' Add the missing images or remove the extra ones.'
            raise ValueError(msg)
    order = sorted(keyed[first], key=lambda k: keyed[first][k])
    return [{
        mod: osp.abspath(osp.join(folders[mod], keyed[mod][key]))
        for mod in modalities
    } for key in order]


def scan_paired(data_root: str,
                split: str = 'train',
                modalities: Sequence[str] = DEFAULT_MODALITIES,
                classes: Optional[Sequence[str]] = None,
                pairing: str = 'name',
                image_exts: Sequence[str] = DEFAULT_IMAGE_EXTS,
                ignore_dirs: Iterable[str] = IGNORED_DIRS) -> ScanResult:
    """Read the MICS paired layout ``<data_root>/<split>/<class>_<MOD>/*``.

    Args:
        data_root (str): The folder holding the split folders.
        split (str): The split folder to read. Defaults to ``'train'``.
        modalities (Sequence[str]): Modality names; every class needs one
            folder per modality. Defaults to ``('wli', 'nbi')``.
        classes (Sequence[str], optional): Expected classes; the label is the
            position in it. None: the sorted class names found in *all* split
            folders, so that labels agree between splits. Defaults to None.
        pairing (str): ``'name'`` matches files by :func:`pairing_key`;
            ``'order'`` by sorted order (as the public MICS loader does;
            counts must be equal). Defaults to ``'name'``.
        image_exts (Sequence[str]): Extensions counted as images (others are
            ignored). Defaults to :data:`DEFAULT_IMAGE_EXTS`.
        ignore_dirs (Iterable[str]): Folder names to skip. Defaults to
            ``('splits',)``.

    Returns:
        ScanResult: The classes and samples (``img_path`` has every
        modality).

    Raises:
        FileNotFoundError: If ``data_root`` or the split folder is missing.
        ValueError: For unknown, incomplete, empty or unpaired folders.
    """
    data_root = check_data_root(data_root)
    mods = check_modalities(modalities)
    exts = _normalise_exts(image_exts)
    check_choice(pairing, PAIRINGS, 'pairing')
    ignore_dirs = tuple(ignore_dirs)
    available = find_paired_splits(data_root, mods, ignore_dirs)
    split_dir = osp.join(data_root, str(split))
    if split not in available:
        raise FileNotFoundError(
            f'{_ERR}split folder {split_dir!r} not found or it has no '
            f'<class>_<MOD> folders (modalities {mods}); split folders '
            f'available in {data_root!r}: {available}. Pass split= one of '
            f'them, or write split files with `python '
            f'tools/data/make_splits.py --data-root {data_root}` and pass '
            f'ann_file=.')
    folders = _paired_folders(split_dir, mods, ignore_dirs)
    if classes is None:
        found = set(folders)
        for other in available:
            if other != split:
                found.update(
                    _paired_folders(
                        osp.join(data_root, other), mods, ignore_dirs))
        classes = tuple(sorted(found))
    else:
        classes = tuple(classes)
        unknown = sorted(c for c in folders if c not in classes)
        if unknown:
            bad = next(iter(folders[unknown[0]].values()))
            raise ValueError(
                f'{_ERR}class folder {bad!r} (class {unknown[0]!r}) is not '
                f'one of the expected classes {classes}; pass classes=(...) '
                f'including it, or remove the folder.')
    samples = []
    for cls in sorted(folders):
        present = folders[cls]
        for mod in mods:
            if mod not in present:
                have_mod, have_path = next(iter(present.items()))
                raise ValueError(
                    f'{_ERR}class {cls!r} in {split_dir!r} has a '
                    f'{have_mod.upper()} folder {have_path!r} but no '
                    f'{osp.join(split_dir, cls + "_" + mod.upper())!r} '
                    f'folder for modality {mod!r}; add it, remove the class, '
                    f'or pass modalities= without it.')
        label = classes.index(cls)
        for paths in _pair_files(present, mods, pairing, exts):
            samples.append(dict(img_path=paths, gt_label=label))
    return ScanResult(layout='paired', classes=classes, samples=samples)


def scan_layout(data_root: str,
                split: Optional[str] = 'train',
                layout: str = 'auto',
                modalities: Sequence[str] = DEFAULT_MODALITIES,
                classes: Optional[Sequence[str]] = None,
                pairing: str = 'name',
                image_exts: Sequence[str] = DEFAULT_IMAGE_EXTS,
                ignore_dirs: Iterable[str] = IGNORED_DIRS) -> ScanResult:
    """Read ``data_root`` in the given or detected layout.

    Args:
        data_root (str): The dataset folder.
        split (str, optional): Split folder of the paired layout; not used by
            the Kvasir layout (it has no split folders). Defaults to
            ``'train'``.
        layout (str): ``'auto'`` (see :func:`detect_layout`), ``'kvasir'``
            or ``'paired'``. Defaults to ``'auto'``.
        modalities (Sequence[str]): Modality names. Defaults to
            ``('wli', 'nbi')``.
        classes (Sequence[str], optional): Expected classes. Defaults to None.
        pairing (str): ``'name'`` or ``'order'`` (paired layout). Defaults
            to ``'name'``.
        image_exts (Sequence[str]): Extensions counted as images. Defaults to
            :data:`DEFAULT_IMAGE_EXTS`.
        ignore_dirs (Iterable[str]): Folder names to skip. Defaults to
            ``('splits',)``.

    Returns:
        ScanResult: The layout read, classes and samples.
    """
    data_root = check_data_root(data_root)
    mods = check_modalities(modalities)
    check_choice(layout, LAYOUTS, 'layout')
    ignore_dirs = tuple(ignore_dirs)
    if layout == 'auto':
        layout = detect_layout(data_root, mods, ignore_dirs)
    if layout == 'kvasir':
        return scan_kvasir(data_root, mods, classes, image_exts, ignore_dirs)
    return scan_paired(data_root, 'train' if split is None else split, mods,
                       classes, pairing, image_exts, ignore_dirs)


def verify_image_files(paths: Iterable[str]) -> None:
    """Decode every file with ``cv2.imread``.

    Args:
        paths (Iterable[str]): Image paths.

    Raises:
        ValueError: Naming the first file that cannot be decoded.
    """
    for path in paths:
        if cv2.imread(path, cv2.IMREAD_UNCHANGED) is None:
            raise ValueError(
                f'{_ERR}cannot decode image {path!r} (missing, corrupt or not '
                f'an image); re-download or remove it, then re-run '
                f'`python tools/data/make_splits.py`.')
