"""Config loading shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction

from ..engine.runner import check_config_keys

__all__ = ['LAUNCHERS', 'add_common_args', 'load_config']

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


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


def load_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` and apply the options both tools share.

    Merges ``--cfg-options``, sets ``default_scope`` (``'mics_mm'``) and
    ``runner_type`` (``'SafeRunner'``) if missing, ``work_dir``
    (``--work-dir`` > config > ``work_dirs/<stem>``) and ``launcher``, and
    checks the config keys, including the ``--cfg-options`` ones
    (:func:`~mics_mm.engine.runner.check_config_keys`).

    Args:
        args (argparse.Namespace): Parsed arguments (see
            :func:`add_common_args`), with ``config``.

    Returns:
        Config: The config to build the runner from.

    Raises:
        UsageError: A bad config key, named with the nearest known one.
    """
    cfg = Config.fromfile(args.config)
    file_keys = set(cfg.keys())
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('default_scope') is None:
        cfg.default_scope = 'mics_mm'
    cfg.setdefault('runner_type', 'SafeRunner')
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        stem = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('./work_dirs', stem)
    cfg.launcher = args.launcher
    check_config_keys(cfg, file_keys, args.cfg_options, args.config)
    return cfg
