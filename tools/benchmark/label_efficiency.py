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

Scale (``--scale``): ``demo`` (the default, all of the above: the demo
configs, budgets of the quick setting, every job in this process) or
``paper`` (Kvasir only): the full-size configs (MICS and the baselines'
ResNet-50 at 224 px and ViT-B/16 at 384 px, 100 pre-training epochs of
8 x 32, the 1,000-iteration fine-tuning and linear-probe configs;
``--backbones resnet50 vit-base``) on the real Kvasir (``--data``, default
``data/kvasir``: never made; a missing folder is an error), with each
config's own epochs, batches and iterations (``--quick`` is refused; a
budget flag given explicitly still applies to every method). Default
paper setting: every method, fractions 0.05 0.1 0.2 1.0, seeds 0 1 2, both
protocols.

Jobs (``--gpus N``): at paper scale, or with N > 1, each job runs as
commands from the repository root: its config (every edit of the
harness) is dumped into its work dir and trained with ``bash
tools/dist_train.sh CONFIG N --work-dir DIR --overwrite --cfg-options
...`` (N > 1; the options repeat the settings that tell the jobs apart:
data, split file, checkpoint, seed) or ``python tools/train.py CONFIG
...`` (N = 1), and a fine-tuning job is then tested from its last
checkpoint with ``tools/dist_test.sh`` / ``tools/test.py`` (the
checkpoint is deleted afterwards). ``--dry-run`` prints every job's
commands (``job i of N`` each) and runs nothing, writes nothing. Every job
prints ``job i of N``, the time since the first job and an estimate of
what is left.

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
    python tools/benchmark/label_efficiency.py --scale paper --gpus 8 \
        --dry-run --out work_dirs/bench/kvasir_paper
    python tools/benchmark/label_efficiency.py --scale paper --gpus 8 \
        --out work_dirs/bench/kvasir_paper

This file is the command line; the harness (tables, job configs, jobs,
statistics, reports) is the package :mod:`mics_mm.benchmark`.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from mics_mm.benchmark import (PAPER, QUICK, SCALES, TASKS, Settings,
                               prepare_data, run_benchmark, task_table,
                               write_reports)
from mics_mm.datasets.splits import fraction_tag

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line; values left out come from the task's quick
    setting (:data:`mics_mm.benchmark.QUICK`), or at ``--scale paper``
    from :data:`mics_mm.benchmark.PAPER` (no budgets: the configs')."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='kvasir')
    parser.add_argument(
        '--scale',
        choices=sorted(SCALES),
        default='demo',
        help='demo (default): the demo configs and data; paper: the '
        'full-size configs on data/kvasir (Kvasir only)')
    parser.add_argument('--data', help='dataset folder (default: the demo '
                        'data of the task, made if missing; --scale paper: '
                        'data/kvasir, which must exist)')
    parser.add_argument('--methods', nargs='+')
    parser.add_argument('--backbones', nargs='+')
    parser.add_argument('--fractions', nargs='+', type=float)
    parser.add_argument('--seeds', nargs='+', type=int)
    parser.add_argument('--protocols', nargs='+',
                        choices=['finetune', 'linear'])
    parser.add_argument('--pretrain-epochs', type=int)
    parser.add_argument('--pretrain-batch', type=int,
                        help='batch size per GPU')
    parser.add_argument('--finetune-iters', type=int)
    parser.add_argument('--finetune-batch', type=int,
                        help='batch size per GPU')
    parser.add_argument(
        '--workers', type=int, default=None,
        help='data-loader workers (default 2; --scale paper: each '
        "config's)")
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help='GPUs per job: above 1 each job runs with tools/dist_train.sh '
        '(default 1)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print every job\'s commands (job i of N) and run nothing')
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
    if args.gpus < 1:
        parser.error('--gpus must be at least 1')
    if args.scale == 'paper':
        if args.quick:
            parser.error('--quick is the demo setting; --scale paper runs '
                         "the full-size configs with their own budgets")
        if args.task not in PAPER:
            parser.error(f'--scale paper has the tasks {sorted(PAPER)} '
                         f'only, not {args.task}')
        defaults = PAPER[args.task]
    else:
        defaults = QUICK[args.task]
        if args.workers is None:
            args.workers = 2
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    known = task_table(args.task, args.scale)['pretrain']
    unknown = set(args.methods) - set(known)
    if unknown:
        parser.error(f'unknown methods {sorted(unknown)} for --task '
                     f'{args.task} --scale {args.scale}; known: '
                     f'{sorted(known)}')
    if args.task == 'brain-seg' and 'linear' in args.protocols:
        parser.error('--task brain-seg has the finetune protocol only')
    if not all(0 < f <= 1 for f in args.fractions):
        parser.error('fractions must be in (0, 1]')
    return args


def check_fraction_splits(data: str, fractions: List[float],
                          dry_run: bool) -> None:
    """Fail early, naming the fix, when a fraction's split file
    (``splits/train_labeled_{p}pct.json``) is missing; a dry run on a
    folder without splits only says that they would be written.

    Raises:
        SystemExit: A split file is missing.
    """
    splits = osp.join(data, 'splits')
    if dry_run and not osp.isfile(osp.join(splits, 'train.json')):
        print(f'[label_efficiency] dry run: {splits} has no split files; '
              'a run writes them first (seed 0)', flush=True)
        return
    missing = [
        f for f in fractions if not osp.isfile(
            osp.join(splits, f'train_labeled_{fraction_tag(100 * f)}pct.json'))
    ]
    if missing:
        percents = ' '.join(fraction_tag(100 * f) for f in missing)
        raise SystemExit(
            f'label_efficiency: error: no labelled split for fractions '
            f'{missing} under {splits}; write them with python '
            f'tools/data/make_splits.py --data-root {data} --fractions '
            f'{percents} --force (the other split files are rewritten '
            'identically with the same seed)')


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark, write the reports under ``--out`` and print the
    table and targets; returns what ``results.json`` holds. With
    ``--dry-run``: print every job's commands, write nothing, and return
    the planned jobs (``jobs``)."""
    args = parse_args(argv)
    try:
        data = prepare_data(args.task, args.data, ROOT, scale=args.scale,
                            create=not args.dry_run)
    except FileNotFoundError as err:
        raise SystemExit(f'label_efficiency: error: {err}') from None
    if args.task == 'kvasir':
        check_fraction_splits(data, args.fractions, args.dry_run)
    if not args.dry_run:
        os.makedirs(args.out, exist_ok=True)
    command = 'python tools/benchmark/label_efficiency.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    result = run_benchmark(
        Settings.from_namespace(args), data, ROOT, command)
    if args.dry_run:
        return result
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
