"""Train a model from a config (mmpretrain's ``tools/train.py``, plus
``--overwrite``).

The configs name ``runner_type='SafeRunner'``, which checks the config keys,
the device and the work dir before training (docs/reliability.md); this
script also checks the ``--cfg-options`` keys and reports such errors
without a traceback.

Examples::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
    python tools/train.py CONFIG --overwrite   # new run over an old one
    bash tools/dist_train.sh CONFIG 8          # DDP (NCCL; gloo without GPUs)
"""
import argparse
import os
from typing import List, Optional

from mmengine.config import Config
from mmengine.registry import RUNNERS

import mics_mm  # noqa: F401  (registers the modules)
from mics_mm.apis import add_common_args, enable_amp, load_config
from mics_mm.engine.runner import (UsageError, check_work_dir,
                                   finish_distributed)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work '
        'dir when no CKPT is given')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='start a new run even if the work dir holds checkpoints of '
        'another run (same-named files are replaced as the new run saves)')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the total batch size over '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='set pin_memory=False in all dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='set persistent_workers=False in all dataloaders')
    add_common_args(parser)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the training-only command-line options to ``cfg`` in place."""
    if args.amp:
        enable_amp(cfg.optim_wrapper)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    cfg.overwrite_work_dir = bool(args.overwrite)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise UsageError('--auto-scale-lr needs `auto_scale_lr = dict('
                             'base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader is None:
            continue
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if args.no_persistent_workers:
            loader['persistent_workers'] = False
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point.

    Raises:
        SystemExit: With the message of a
            :class:`~mics_mm.engine.runner.UsageError` (bad config key, work
            dir holding another run's checkpoints).
    """
    args = parse_args(argv)
    try:
        cfg = merge_train_args(load_config(args), args)
        # before anything is created in the work dir (SafeRunner checks
        # again when it trains, for mmpretrain's packaged train.py)
        check_work_dir(cfg.work_dir, cfg.get('resume', False),
                       cfg.get('load_from'), cfg.overwrite_work_dir)
        runner = RUNNERS.build(cfg)
        runner.train()
    except UsageError as err:
        raise SystemExit(f'tools/train.py: error: {err}') from None
    finish_distributed()


if __name__ == '__main__':
    main()
