"""The data of the label-efficiency benchmark: the dataset folder of a task
(the demo data made when missing) and the labelled-subject manifests of the
brain task."""
import json
import math
import os.path as osp
from typing import Optional

from .tables import task_table

__all__ = ['prepare_data', 'brain_fraction_manifest']


def prepare_data(task: str, data: Optional[str], root: str,
                 scale: str = 'demo', create: bool = True) -> str:
    """The dataset folder of a run, ready to train on.

    Without ``data`` the task's default folder (``default_data`` of its
    table, under ``root``) is used. At ``scale='demo'`` that is the demo
    data, made if missing (Kvasir: the synthetic demo set,
    :func:`mics_mm.testing.kvasir_demo.make_demo_kvasir`; brain: the demo
    brain set, :func:`mics_mm.testing.brain_demo.make_brain_demo`); at
    ``scale='paper'`` it is the real Kvasir (``data/kvasir``), never made:
    a missing folder is an error saying where to get it. A Kvasir folder
    without ``splits/train.json`` gets its splits
    (:func:`mics_mm.datasets.splits.make_splits`, seed 0).

    Args:
        task (str): ``kvasir`` or ``brain-seg``.
        data (str, optional): Dataset folder; relative paths are taken
            relative to ``root``.
        root (str): The repository root.
        scale (str): ``demo`` or ``paper``. Defaults to 'demo'.
        create (bool): Make the demo data / splits when missing. False (a
            dry run): write nothing; a missing real data folder is still an
            error. Defaults to True.

    Returns:
        str: The absolute dataset folder.

    Raises:
        FileNotFoundError: A given ``data`` (or, at ``paper`` scale, the
            default real one) is missing (Kvasir), or is not a demo brain
            set (no ``provenance.json``).
    """
    folder = data or task_table(task, scale)['default_data']
    folder = folder if osp.isabs(folder) else osp.join(root, folder)
    if task == 'kvasir':
        from ..datasets.splits import make_splits
        if not osp.isdir(folder):
            if scale == 'paper':
                raise FileNotFoundError(
                    f'--scale paper trains on the real Kvasir, and {folder} '
                    'does not exist: download it from '
                    'https://datasets.simula.no/kvasir/, unzip it so that '
                    'the class folders are directly under that folder '
                    '(docs/data.md), write its splits with python '
                    f'tools/data/make_splits.py --data-root {folder}, or '
                    'pass --data DIR.')
            if data:
                raise FileNotFoundError(f'--data {folder} does not exist')
            if not create:
                return folder
            from ..testing.kvasir_demo import make_demo_kvasir
            make_demo_kvasir(folder, per_class=40, size=64, seed=0)
        if create and not osp.isfile(osp.join(folder, 'splits',
                                              'train.json')):
            make_splits(folder, seed=0)
    else:
        if not osp.isfile(osp.join(folder, 'provenance.json')):
            if data:
                raise FileNotFoundError(
                    f'--data {folder} is not a demo brain set (no '
                    'provenance.json); make one with '
                    'tools/data/make_brain_demo.py')
            if not create:
                return folder
            from ..testing.brain_demo import make_brain_demo
            make_brain_demo(folder)
    return folder


def brain_fraction_manifest(data: str, fraction: float, out: str) -> str:
    """Labelled subjects for a fraction of the demo brain set's pool (the
    subjects that are neither validation nor test), T1 + label only.

    The first ``ceil(fraction x pool)`` subjects (at least one; BrainWeb
    excluded) are written to ``<out>/seg_train_<fraction>.json``.

    Args:
        data (str): The demo brain set (with ``provenance.json``).
        fraction (float): Labelled fraction in (0, 1].
        out (str): Output folder.

    Returns:
        str: The manifest's absolute path (the dataset would resolve a
        relative ``ann_file`` against ``data_root``).
    """
    with open(osp.join(data, 'provenance.json')) as f:
        prov = json.load(f)
    pool = [c for c in prov['splits']['pretrain'] if c != 'brainweb']
    n = max(1, math.ceil(fraction * len(pool) - 1e-9))
    items = [
        dict(case=c, images={'t1': f'{c}/{c}_t1.nii.gz'},
             label=f'{c}/{c}_seg.nii.gz') for c in pool[:n]
    ]
    path = osp.abspath(osp.join(out, f'seg_train_{fraction:g}.json'))
    with open(path, 'w') as f:
        json.dump(items, f, indent=1)
    return path
