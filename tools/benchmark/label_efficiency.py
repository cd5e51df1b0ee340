"""Label-efficiency benchmark: MICS / BrainMVP against mmpretrain's methods,
pre-trained under one budget, fine-tuned at each labelled fraction and seed.

Kvasir (classification, ``--task kvasir``): every method in ``--methods``
(mics, simclr, mocov3, byol, mae, scratch) is pre-trained with its config
under ``configs/mics`` / ``configs/baselines`` on the same data, split,
pipeline family and backbone, with the same batch size and number of epochs
(so the same iterations and samples seen; the harness checks the logged
iteration counts and refuses unequal budgets). Each pre-trained encoder then
goes through the same fine-tuning protocols (``--protocols``: ``finetune``,
the MICS multimodal classifier trained end to end; ``linear``, frozen
encoders with a linear classifier) at each labelled fraction
(``splits/train_labeled_{p}pct.json``) and seed, for the same number of
iterations, and is tested on the test split (accuracy, macro F1, macro AUC).
``scratch`` fine-tunes randomly initialised encoders.

Brain MRI (segmentation, ``--task brain-seg``): BrainMVP against MAE and
from scratch on the demo brain set (``tools/data/make_brain_demo.py``),
fine-tuned through mmsegmentation on a fraction of the labelled subjects
and scored with per-case Dice on the held-out subjects.

Backbones: ``--backbones resnet18 vit-tiny``; a method runs on the backbones
it has a config for (MAE: ViT only; SimCLR / MoCo v3 / BYOL: ResNet-18 on
the demo), so each comparison is within one backbone.

Writes ``<out>/results.json`` (every run, the pre-training budgets, the
summary and the targets), ``<out>/results.md`` (mean +- std tables) and
``<out>/results.png`` (metric vs labelled fraction, one line per method).

Examples::

    python tools/benchmark/label_efficiency.py --quick --out work_dirs/bench/label_efficiency
    python tools/benchmark/label_efficiency.py --task brain-seg --quick \
        --out work_dirs/bench/label_efficiency_brain
    python tools/benchmark/label_efficiency.py --data data/kvasir \
        --methods mics simclr mocov3 byol mae scratch \
        --fractions 0.05 0.1 0.2 1.0 --seeds 0 1 2 --out work_dirs/bench/kvasir

This file is the command line; the harness (tables, job configs, jobs,
statistics, reports) is the package :mod:`mics_mm.benchmark`.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from mics_mm.benchmark import (QUICK, TASKS, Settings, prepare_data,
                               run_benchmark, write_reports)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line; values left out come from the task's quick
    setting (:data:`mics_mm.benchmark.QUICK`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='kvasir')
    parser.add_argument('--data', help='dataset folder (default: the demo '
                        'data of the task, made if missing)')
    parser.add_argument('--methods', nargs='+')
    parser.add_argument('--backbones', nargs='+')
    parser.add_argument('--fractions', nargs='+', type=float)
    parser.add_argument('--seeds', nargs='+', type=int)
    parser.add_argument('--protocols', nargs='+',
                        choices=['finetune', 'linear'])
    parser.add_argument('--pretrain-epochs', type=int)
    parser.add_argument('--pretrain-batch', type=int)
    parser.add_argument('--finetune-iters', type=int)
    parser.add_argument('--finetune-batch', type=int)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument(
        '--quick',
        action='store_true',
        help='the documented small setting on the demo data (each value '
        'can still be overridden)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='reuse the jobs a previous (interrupted) run under --out '
        'finished with the same settings (each job.json) and run the '
        'rest')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='run every job again even if --out holds a previous run '
        '(its checkpoints are replaced)')
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error('--resume and --overwrite exclude each other')
    defaults = QUICK[args.task]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = set(args.methods) - set(TASKS[args.task]['pretrain'])
    if unknown:
        parser.error(f'unknown methods {sorted(unknown)} for --task '
                     f'{args.task}; known: {sorted(TASKS[args.task]["pretrain"])}')
    if args.task == 'brain-seg' and 'linear' in args.protocols:
        parser.error('--task brain-seg has the finetune protocol only')
    if not all(0 < f <= 1 for f in args.fractions):
        parser.error('fractions must be in (0, 1]')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark, write the reports under ``--out`` and print the
    table and targets; returns what ``results.json`` holds."""
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    data = prepare_data(args.task, args.data, ROOT)
    command = 'python tools/benchmark/label_efficiency.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    result = run_benchmark(
        Settings.from_namespace(args), data, ROOT, command)
    paths = write_reports(
        result, args.out,
        f'label efficiency, {args.task} ({osp.relpath(data, ROOT)})')
    with open(paths['md']) as f:
        print(f.read())
    print(json.dumps(result['targets'], indent=1))
    print(f'[label_efficiency] done in {result["seconds"]:.0f} s: '
          f'{paths["json"]}')
    return result


if __name__ == '__main__':
    main()
