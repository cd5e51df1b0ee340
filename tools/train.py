"""Train a model from a config with an mmengine Runner.

Same command line as mmpretrain's ``tools/train.py``; ``import mics_mm``
registers the package's modules and applies :mod:`mics_mm.compat` first.

Examples::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
    bash tools/dist_train.sh CONFIG 2          # DDP, also on CPU (gloo)
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Union

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mics_mm  # noqa: F401  (registers modules, applies mics_mm.compat)
from mics_mm.compat import adapt_cfg_for_cpu_distributed, finish_distributed

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
_PLAIN_WRAPPERS = (None, 'OptimWrapper', 'AmpOptimWrapper')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments shared by ``train.py`` and ``test.py``."""
    parser.add_argument(
        '--work-dir',
        help='directory for logs and checkpoints '
        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. "train_cfg.max_epochs=2"')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (older: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line of ``train.py``."""
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


def load_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` and apply the options shared by train and test.

    Merges ``--cfg-options``, sets ``default_scope`` (``'mmpretrain'``) if
    missing, ``work_dir`` (``--work-dir`` > config > ``work_dirs/<stem>``)
    and ``launcher``; a launcher run without a GPU is adapted to CPU DDP by
    :func:`mics_mm.compat.adapt_cfg_for_cpu_distributed`.

    Args:
        args (argparse.Namespace): Parsed arguments (see
            :func:`add_common_args`).

    Returns:
        Config: The config to build the runner from.
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('default_scope') is None:
        cfg.default_scope = 'mmpretrain'
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        stem = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', stem)
    cfg.launcher = args.launcher
    if args.launcher != 'none':
        adapt_cfg_for_cpu_distributed(cfg)
    return cfg


def _make_amp(wrapper: Union[dict, ConfigDict], name: str = '') -> None:
    wrapper_type = wrapper.get('type')
    if wrapper_type not in _PLAIN_WRAPPERS:
        raise ValueError(
            f'--amp only converts OptimWrapper to AmpOptimWrapper, but the '
            f'optim_wrapper{name} type is {wrapper_type!r}; enable mixed '
            'precision in the config instead.')
    wrapper['type'] = 'AmpOptimWrapper'
    wrapper.setdefault('loss_scale', 'dynamic')


def enable_amp(optim_wrapper: Union[dict, ConfigDict]) -> None:
    """Switch an ``optim_wrapper`` config to ``AmpOptimWrapper`` in place.

    A single wrapper (it has a ``type`` or ``optimizer`` key) is converted
    directly. A dict of wrappers for ``MultiOptimWrapperConstructor`` (a
    ``constructor`` key plus one sub-dict with an ``optimizer`` per part of
    the model) has each sub-wrapper converted. ``loss_scale`` defaults to
    ``'dynamic'``.

    Args:
        optim_wrapper (dict | ConfigDict): ``cfg.optim_wrapper``.

    Raises:
        ValueError: If a wrapper has a custom ``type``, or no wrapper is
            found.
    """
    if 'type' in optim_wrapper or 'optimizer' in optim_wrapper:
        _make_amp(optim_wrapper)
        return
    subs = {
        key: value
        for key, value in optim_wrapper.items()
        if isinstance(value, dict) and 'optimizer' in value
    }
    if 'constructor' not in optim_wrapper or not subs:
        raise ValueError('--amp: cfg.optim_wrapper is neither an optimizer '
                         'wrapper nor a dict of wrappers with a constructor')
    for key, value in subs.items():
        _make_amp(value, name=f'.{key}')


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
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict('
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


def build_runner(cfg: Config) -> Runner:
    """Build the runner, honouring a ``runner_type`` key."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    cfg = merge_train_args(load_config(args), args)
    runner = build_runner(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
