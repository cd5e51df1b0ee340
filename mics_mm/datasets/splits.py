"""Writing stratified, seeded split files of a Kvasir / MICS data set.

:func:`make_splits` writes, into ``<data_root>/splits/`` by default:
``train.json``, ``val.json``, ``test.json``, nested stratified labelled subsets
``train_labeled_{p}pct.json`` with their complements
``train_unlabeled_{p}pct.json``, and ``splits_meta.json``. A split with no
samples is not written (the dataset refuses empty files), so for ``p = 100``
there is no unlabelled file, and ``val.json`` is not written when ``val=0``.

Split files use mmengine's annotation format, with image paths relative to
``data_root``::

    {"metainfo": {"classes": [...], "modalities": ["wli", "nbi"]},
     "data_list": [{"img_path": {"wli": "polyps/0001.jpg"}, "gt_label": 6},
                   ...]}
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .layouts import (DEFAULT_IMAGE_EXTS, DEFAULT_MODALITIES, IGNORED_DIRS,
                      LAYOUTS, SPLIT_NAMES, check_choice, check_data_root, check_modalities,
                      detect_layout, find_paired_splits, scan_kvasir,
                      scan_paired, verify_image_files)

__all__ = [
    'DEFAULT_FRACTIONS', 'stratified_partition', 'nested_labeled_subsets',
    'write_ann_file', 'fraction_tag', 'make_splits'
]

DEFAULT_FRACTIONS: Tuple[float, ...] = (1, 5, 10, 20, 50, 100)
_SPLIT_ERR = 'make_splits: '


def _n_held_out(n: int, fraction: float) -> int:
    """Images of a class of ``n`` that go to a held-out split of
    ``fraction`` (at least one when ``fraction > 0``)."""
    if fraction <= 0:
        return 0
    return max(1, int(np.floor(n * fraction + 0.5)))


def _min_class_size(fractions: Sequence[float]) -> int:
    """Smallest class size that leaves one training image after the
    held-out splits."""
    n = 1
    while n - sum(_n_held_out(n, f) for f in fractions) < 1:
        n += 1
    return n


def stratified_partition(labels: Sequence[int],
                         held_out: Sequence[Tuple[str, float]],
                         rng: np.random.Generator,
                         class_names: Sequence[str],
                         where: str = '') -> Dict[str, np.ndarray]:
    """Split sample indices into ``train`` and held-out splits, per class.

    For every class (in label order) its indices are permuted with ``rng``;
    the first ``round(n * f)`` (at least 1 when ``f > 0``) go to each
    held-out split in turn, the rest to ``train``.

    Args:
        labels (Sequence[int]): Class index of every sample.
        held_out (Sequence[tuple[str, float]]): ``(name, fraction)`` pairs,
            e.g. ``[('test', 0.2), ('val', 0.1)]``.
        rng (np.random.Generator): Random generator (consumed in class
            order, so the result is deterministic for a seed).
        class_names (Sequence[str]): Names of all classes; every class must
            have enough samples.
        where (str): Where the samples come from, for error messages.
            Defaults to ''.

    Returns:
        dict[str, np.ndarray]: Sorted sample indices for ``'train'`` and each
        held-out name.

    Raises:
        ValueError: If a class has fewer samples than needed (the message
            says how many).
    """
    labels = np.asarray(labels, dtype=np.int64)
    fractions = [f for _, f in held_out]
    if sum(fractions) >= 1 or any(f < 0 for f in fractions):
        raise ValueError(f'{_SPLIT_ERR}held-out fractions {dict(held_out)} '
                         f'must be >= 0 and sum to less than 1.')
    needed = _min_class_size(fractions)
    parts: Dict[str, List[np.ndarray]] = {'train': []}
    parts.update({name: [] for name, _ in held_out})
    for label, name in enumerate(class_names):
        idx = np.flatnonzero(labels == label)
        if len(idx) < needed:
            raise ValueError(
                f'{_SPLIT_ERR}class {name!r} has {len(idx)} images'
                f'{" in " + repr(where) if where else ""}, but the requested '
                f'split ({", ".join(f"{n}={f:g}" for n, f in held_out)}) '
                f'needs at least {needed} per class (one per held-out split '
                f'plus one for train). Add images or lower the fractions.')
        idx = rng.permutation(idx)
        start = 0
        for split_name, frac in held_out:
            k = _n_held_out(len(idx), frac)
            parts[split_name].append(idx[start:start + k])
            start += k
        parts['train'].append(idx[start:])
    return {
        k: np.sort(np.concatenate(v)) if v else np.zeros(0, np.int64)
        for k, v in parts.items()
    }


def nested_labeled_subsets(labels: Sequence[int], fractions: Sequence[float],
                           rng: np.random.Generator,
                           num_classes: int) -> Dict[float, np.ndarray]:
    """Nested stratified labelled subsets of a training set.

    Each class is permuted once; the subset for percentage ``p`` takes the
    first ``round(n_c * p / 100)`` (at least 1) indices of every class, so a
    smaller subset is always contained in a larger one.

    Args:
        labels (Sequence[int]): Class index of every training sample.
        fractions (Sequence[float]): Percentages in ``(0, 100]``.
        rng (np.random.Generator): Random generator.
        num_classes (int): Number of classes.

    Returns:
        dict[float, np.ndarray]: Sorted indices (into ``labels``) per
        percentage.

    Raises:
        ValueError: If a percentage is outside ``(0, 100]``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    for p in fractions:
        if not 0 < p <= 100:
            raise ValueError(f'{_SPLIT_ERR}labelled fraction {p:g} is not a '
                             f'percentage in (0, 100].')
    perms = [
        rng.permutation(np.flatnonzero(labels == c))
        for c in range(num_classes)
    ]
    out = {}
    for p in sorted(set(fractions)):
        chosen = [
            perm[:min(len(perm), max(1, int(np.floor(len(perm) * p / 100 +
                                                     0.5))))]
            for perm in perms
        ]
        out[p] = np.sort(np.concatenate(chosen)) if chosen else np.zeros(
            0, np.int64)
    return out


def fraction_tag(p: float) -> str:
    """File-name form of a percentage: ``1 -> '1'``, ``0.5 -> '0.5'``."""
    return f'{float(p):g}'


def write_ann_file(path: str, samples: Sequence[dict],
                   classes: Sequence[str], modalities: Sequence[str],
                   data_root: str) -> None:
    """Write samples as an mmengine-format JSON annotation file.

    Args:
        path (str): Output file.
        samples (Sequence[dict]): Samples with absolute ``img_path`` dicts.
        classes (Sequence[str]): Class names.
        modalities (Sequence[str]): Modality names.
        data_root (str): Image paths are written relative to it (``/``
            separators).
    """
    root = osp.abspath(data_root)
    data_list = [
        dict(
            img_path={
                mod: osp.relpath(p, root).replace(os.sep, '/')
                for mod, p in s['img_path'].items()
            },
            gt_label=int(s['gt_label'])) for s in samples
    ]
    metainfo = dict(classes=list(classes), modalities=list(modalities))
    # One sample per line: small files that diff well.
    entries = ',\n'.join('  ' + json.dumps(d) for d in data_list)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'{{\n "metainfo": {json.dumps(metainfo)},\n'
                f' "data_list": [\n{entries}\n ]\n}}\n')


def _counts(samples: Sequence[dict], classes: Sequence[str]) -> Dict[str, int]:
    """Samples per class plus ``total``."""
    counts = {c: 0 for c in classes}
    for s in samples:
        counts[classes[s['gt_label']]] += 1
    counts['total'] = len(samples)
    return counts


def make_splits(data_root: str,
                out_dir: Optional[str] = None,
                layout: str = 'auto',
                modalities: Sequence[str] = DEFAULT_MODALITIES,
                val: float = 0.1,
                test: float = 0.2,
                seed: int = 0,
                fractions: Sequence[float] = DEFAULT_FRACTIONS,
                classes: Optional[Sequence[str]] = None,
                pairing: str = 'name',
                image_exts: Sequence[str] = DEFAULT_IMAGE_EXTS,
                verify: bool = False,
                force: bool = False,
                command: Optional[str] = None) -> dict:
    """Write stratified, seeded train/val/test and labelled-subset files.

    Kvasir layout: all images are split per class into test (``test``),
    val (``val``) and train (the rest). Paired layout: existing ``val/`` and
    ``test/`` folders are kept as they are; a missing one is carved
    (stratified) from ``train/`` with its fraction of ``train/``. The
    labelled subsets ``train_labeled_{p}pct.json`` are nested and stratified
    with at least one image per class; ``train_unlabeled_{p}pct.json`` is the
    rest of train. Files that would be empty (unlabelled part of 100 %, val
    with ``val=0``) are not written. The same inputs and seed give
    byte-identical files.

    Args:
        data_root (str): The dataset folder.
        out_dir (str, optional): Output folder. Defaults to
            ``<data_root>/splits``.
        layout (str): ``'auto'``, ``'kvasir'`` or ``'paired'``. Defaults to
            ``'auto'``.
        modalities (Sequence[str]): Modality names. Defaults to
            ``('wli', 'nbi')``.
        val (float): Validation fraction. Defaults to 0.1.
        test (float): Test fraction. Defaults to 0.2.
        seed (int): Seed of ``numpy.random.default_rng``. Defaults to 0.
        fractions (Sequence[float]): Labelled percentages of train. Defaults
            to ``(1, 5, 10, 20, 50, 100)``.
        classes (Sequence[str], optional): Expected classes. Defaults to None
            (sorted folder names).
        pairing (str): ``'name'`` or ``'order'`` (paired layout). Defaults
            to ``'name'``.
        image_exts (Sequence[str]): Extensions counted as images. Defaults to
            :data:`DEFAULT_IMAGE_EXTS`.
        verify (bool): Decode every image first. Defaults to False.
        force (bool): Overwrite existing split files. Defaults to False.
        command (str, optional): Command line recorded in
            ``splits_meta.json``. Defaults to None.

    Returns:
        dict: The content of ``splits_meta.json``.

    Raises:
        FileExistsError: If a split file exists and ``force`` is False.
        ValueError: For bad fractions or too few images in a class.
    """
    data_root = check_data_root(data_root)
    mods = check_modalities(modalities)
    check_choice(layout, LAYOUTS, 'layout')
    for name, frac in (('val', val), ('test', test)):
        if not 0 <= frac < 1:
            raise ValueError(f'{_SPLIT_ERR}--{name} {frac:g} must be in '
                             f'[0, 1).')
    if val + test >= 1:
        raise ValueError(f'{_SPLIT_ERR}--val {val:g} + --test {test:g} must '
                         f'be below 1 to leave images for train.')
    fractions = sorted(set(float(p) for p in fractions))
    out_dir = out_dir or osp.join(data_root, 'splits')
    ignore = set(IGNORED_DIRS)
    if osp.dirname(osp.abspath(out_dir)) == osp.abspath(data_root):
        ignore.add(osp.basename(osp.abspath(out_dir)))
    ignore_dirs = tuple(sorted(ignore))
    if layout == 'auto':
        layout = detect_layout(data_root, mods, ignore_dirs)
    rng = np.random.default_rng(seed)

    if layout == 'kvasir':
        found = scan_kvasir(data_root, mods, classes, image_exts, ignore_dirs)
        classes, pool = found.classes, found.samples
        existing: Dict[str, List[dict]] = {}
        carve = [('test', test), ('val', val)]
        sources = {'train': 'all images'}
    else:
        available = find_paired_splits(data_root, mods, ignore_dirs)
        if 'train' not in available:
            raise FileNotFoundError(
                f'{_SPLIT_ERR}paired layout in {data_root!r} has no train/ '
                f'folder with <class>_<MOD> folders; split folders found: '
                f'{available}.')
        found = scan_paired(data_root, 'train', mods, classes, pairing,
                            image_exts, ignore_dirs)
        classes, pool = found.classes, found.samples
        existing = {
            s: scan_paired(data_root, s, mods, classes, pairing, image_exts,
                           ignore_dirs).samples
            for s in ('val', 'test') if s in available
        }
        carve = [(s, f) for s, f in (('test', test), ('val', val))
                 if s not in existing]
        sources = {'train': 'train/'}
        sources.update({s: f'{s}/' for s in existing})
    for name, frac in carve:
        sources[name] = (f'{frac:g} of {sources["train"]} per class'
                         if frac > 0 else 'none')

    parts = stratified_partition([s['gt_label'] for s in pool], carve, rng,
                                 classes, where=data_root)
    splits = {name: [pool[i] for i in idx] for name, idx in parts.items()}
    splits.update(existing)
    train = splits['train']
    subsets = nested_labeled_subsets([s['gt_label'] for s in train],
                                     fractions, rng, len(classes))
    outputs: Dict[str, List[dict]] = {
        f'{s}.json': splits.get(s, [])
        for s in SPLIT_NAMES
    }
    for p, idx in subsets.items():
        chosen = set(idx.tolist())
        tag = fraction_tag(p)
        outputs[f'train_labeled_{tag}pct.json'] = [train[i] for i in idx]
        outputs[f'train_unlabeled_{tag}pct.json'] = [
            s for i, s in enumerate(train) if i not in chosen
        ]
    skipped = sorted(k for k, v in outputs.items() if not v)
    outputs = {k: v for k, v in outputs.items() if v}
    names = list(outputs) + ['splits_meta.json']

    if not force:
        for name in names:
            if osp.exists(osp.join(out_dir, name)):
                raise FileExistsError(
                    f'{_SPLIT_ERR}{osp.join(out_dir, name)!r} already exists;'
                    f' pass --force (force=True) to overwrite the split '
                    f'files, or choose another --out.')
    if verify:
        verify_image_files(p for samples in splits.values() for s in samples
                           for p in s['img_path'].values())

    os.makedirs(out_dir, exist_ok=True)
    for name, samples in outputs.items():
        write_ann_file(
            osp.join(out_dir, name), samples, classes, mods, data_root)
    meta = dict(
        seed=int(seed),
        val=float(val),
        test=float(test),
        fractions=[float(p) for p in fractions],
        layout=layout,
        pairing=pairing if layout == 'paired' else None,
        data_root=data_root,
        modalities=list(mods),
        classes=list(classes),
        sources=sources,
        counts={
            name[:-len('.json')]: _counts(samples, classes)
            for name, samples in outputs.items()
        },
        files=names,
        not_written_empty=skipped,
        command=command)
    with open(osp.join(out_dir, 'splits_meta.json'), 'w',
              encoding='utf-8') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    return meta
