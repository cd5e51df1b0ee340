"""The training recipe a config gives on your data and GPUs, with warnings.

Prints, as mmengine would run the config: the batch per GPU and in all,
the training-set size (the config's training set built with ``--data-root``,
or ``--num-images K`` to skip building it), the iterations an epoch
(``DefaultSampler`` + ``DataLoader``, ``drop_last``, ``RepeatDataset``
``times``), the total optimizer steps, the warm-up and the hooks' ramps in
iterations (``MICSAlphaWarmupHook``, ``MICSLambdaRampHook``,
``BrainMVPScheduleHook`` phases), each optimizer's learning rate after
``auto_scale_lr`` (only with ``--auto-scale-lr``, as ``tools/train.py``;
otherwise what it would be), and WARNINGS where the schedule is too short
to mean anything (``mics_mm.apis.recipe_report``)::

    python tools/analysis/recipe_report.py configs/mics/pretrain_kvasir.py \\
        --gpus 8 --num-images 2800
    python tools/analysis/recipe_report.py CONFIG --gpus 1 \\
        --data-root data/kvasir --json recipe.json

Exit status 0 with or without warnings; 1 with a message when the config
or its training set cannot be read.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction

from mics_mm.apis import format_recipe, load_config, recipe_report
from mics_mm.engine.runner import UsageError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--gpus', type=int, default=1,
                        help='number of GPUs (world size); default 1')
    parser.add_argument('--data-root', default=None,
                        help="replaces the training set's data_root")
    parser.add_argument('--num-images', type=int, default=None,
                        help='training images (before RepeatDataset); '
                        'skips building the data set')
    parser.add_argument('--kind', choices=('pretrain', 'finetune'),
                        default=None,
                        help='threshold set (default: pretrain for a '
                        'self-supervised model, else finetune)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr as tools/train.py '
                        '--auto-scale-lr does')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, as tools/train.py')
    parser.add_argument('--json', default=None, help='write the report here')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Print the report (and write ``--json``); return the exit status."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        print(f'error: config {args.config!r} not found', file=sys.stderr)
        return 1
    try:
        cfg = load_config(argparse.Namespace(
            config=args.config, cfg_options=args.cfg_options,
            work_dir=None, launcher='none'))
        report = recipe_report(
            cfg, args.gpus, num_images=args.num_images,
            data_root=args.data_root, auto_scale_lr=args.auto_scale_lr,
            kind=args.kind)
    except (UsageError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    report['config'] = args.config
    print(format_recipe(report))
    if args.json:
        folder = osp.dirname(args.json)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
