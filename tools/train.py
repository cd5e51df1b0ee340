"""Train a model from a config with an mmengine Runner.

Same command line as mmpretrain's ``tools/train.py``; ``import mics_mm``
registers the package's modules and applies :mod:`mics_mm.compat` first.

Checks before anything is built (docs/reliability.md):

- **config keys** (:func:`check_config_keys`, also in ``tools/test.py``): a
  top-level key that is a near-miss of a key the runner reads
  (``trian_cfg``), a ``--cfg-options`` key whose top level is neither in the
  config nor read by the runner, and a ``model.*`` key that the class it
  configures does not take (``model.backbone.dpeth``) are errors naming
  the key and the nearest known one;
- **work dir** (:func:`check_work_dir`): a new run refuses to start in a
  work dir that already holds checkpoints (``epoch_*.pth``, ``iter_*.pth``,
  ``best_*.pth``, ``last_checkpoint``) unless ``--resume`` (continue that
  run) or ``--overwrite`` (start over there) is given; ``--resume`` without
  a path refuses a ``last_checkpoint`` that points to a missing file, or
  checkpoints without a ``last_checkpoint``, instead of silently starting
  from scratch.

Examples::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
    python tools/train.py CONFIG --overwrite   # new run over an old one
    bash tools/dist_train.sh CONFIG 2          # DDP, also on CPU (gloo)
"""
import argparse
import difflib
import glob
import inspect
import logging
import os
import os.path as osp
import re
from typing import Iterable, List, Optional, Set, Union

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import find_latest_checkpoint

import mics_mm  # noqa: F401  (registers modules, applies mics_mm.compat)
from mics_mm.compat import adapt_cfg_for_cpu_distributed, finish_distributed

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
_PLAIN_WRAPPERS = (None, 'OptimWrapper', 'AmpOptimWrapper')

#: Top-level keys read by mmengine's Runner (besides ``Runner.__init__``'s
#: arguments) or by these tools.
RUNNER_EXTRA_KEYS = ('runner_type', 'model_wrapper_cfg',
                     'find_unused_parameters', 'compile', 'strategy',
                     'custom_imports', 'sync_bn')
#: Read by test-time tools; allowed, but not proposed as corrections.
OTHER_KNOWN_KEYS = ('tta_model', 'tta_pipeline')
#: Similarity (difflib ratio) from which an unknown top-level key counts as
#: a misspelt runner key. 0.85 flags transpositions and missing letters
#: (trian_cfg 0.89, optim_wraper 0.96, load_form 0.89) but no helper
#: variable of this project's or mmpretrain's configs (train_pipeline vs
#: tta_pipeline is 0.85 only because tta_* are not proposed).
NEAR_MISS = 0.85
#: Files in a work dir that belong to a run (see check_work_dir).
CHECKPOINT_PATTERNS = ('epoch_*.pth', 'iter_*.pth', 'best_*.pth',
                       'last_checkpoint')


class UsageError(ValueError):
    """A problem with the command line or the config, reported without a
    traceback by :func:`main`."""


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


def load_config(args: argparse.Namespace) -> Config:
    """Load ``args.config`` and apply the options shared by train and test.

    Merges ``--cfg-options``, sets ``default_scope`` (``'mmpretrain'``) if
    missing, ``work_dir`` (``--work-dir`` > config > ``work_dirs/<stem>``)
    and ``launcher``, checks the keys (:func:`check_config_keys`); a
    launcher run without a GPU is adapted to CPU DDP by
    :func:`mics_mm.compat.adapt_cfg_for_cpu_distributed`.

    Args:
        args (argparse.Namespace): Parsed arguments (see
            :func:`add_common_args`).

    Returns:
        Config: The config to build the runner from.

    Raises:
        UsageError: From :func:`check_config_keys`.
    """
    cfg = Config.fromfile(args.config)
    file_keys = set(cfg.keys())
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
    check_config_keys(cfg, file_keys, args.cfg_options, args.config)
    if args.launcher != 'none':
        adapt_cfg_for_cpu_distributed(cfg)
    return cfg


# ---------------------------------------------------------------------------
# Config keys
# ---------------------------------------------------------------------------
def runner_keys() -> Set[str]:
    """Top-level config keys mmengine's Runner reads."""
    params = inspect.signature(Runner.__init__).parameters
    return {p for p in params if p not in ('self', 'cfg')
            } | set(RUNNER_EXTRA_KEYS)


def _dotted_keys(node, prefix: str = '') -> Iterable[str]:
    """Every ``a.b.c`` key path of nested dicts (lists not entered)."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f'{prefix}{key}'
            yield path
            yield from _dotted_keys(value, path + '.')


def _nearest(key: str, candidates: Iterable[str],
             cutoff: float = 0.6) -> Optional[str]:
    """The candidate with the same last component as ``key``, else the
    most similar one."""
    candidates = sorted(set(candidates))
    leaf = key.rsplit('.', 1)[-1]
    for cand in candidates:
        if cand.rsplit('.', 1)[-1] == leaf and cand != key:
            return cand
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=cutoff)
    return close[0] if close else None


def _hint(nearest: Optional[str]) -> str:
    return f"; did you mean '{nearest}'?" if nearest else '.'


def _model_class(type_name, scope: str):
    """The class a ``model`` node's ``type`` names, or None."""
    from mmengine.registry import MODELS
    if not isinstance(type_name, str):
        return type_name if inspect.isclass(type_name) else None
    try:
        with MODELS.switch_scope_and_registry(scope) as registry:
            return registry.get(type_name)
    except Exception:  # noqa: BLE001 (unknown scope / type: build reports)
        return None


def _accepted_args(cls) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts, or None if that cannot be
    told. A class taking ``**kwargs`` that it only passes on to
    ``super().__init__(**kwargs)`` accepts its parents' arguments too
    (``MaskedResNet`` -> ``ResNet``); a class that reads its
    ``**kwargs`` otherwise is not checked."""
    accepted: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        accepted.update(n for n, p in params.items() if p.kind not in (
            inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL))
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD
                   for p in params.values()):
            accepted.discard('self')
            return accepted
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            return None
        if not re.search(r'super\([^)]*\)\.__init__\([^)]*\*\*kwargs',
                         source, re.S) or re.search(
                             r'kwargs(\.pop|\.get|\[)', source):
            return None  # kwargs used otherwise: cannot tell
    return None


def _check_model_node(node, path: str, scope: str, errors: List[str]) -> None:
    """Recursively check that every key of a ``type``-d dict is an argument
    of the class (:func:`_accepted_args`). Keys named ``*_cfg`` /
    ``*_cfgs`` (norm, act, init ...) are built by other means and
    skipped."""
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_model_node(item, f'{path}.{i}', scope, errors)
        return
    if not isinstance(node, dict):
        return
    cls = _model_class(node.get('type'), scope) if 'type' in node else None
    accepted = _accepted_args(cls) if cls is not None else None
    if accepted is not None:
        for key in node:
            if key in ('type', '_scope_') or key in accepted:
                continue
            near = difflib.get_close_matches(
                key, sorted(accepted), n=1, cutoff=0.6)
            errors.append(f"'{path}.{key}': {cls.__name__} has no argument "
                          f"'{key}'" + _hint(near[0] if near else None))
    for key, value in node.items():
        if key.endswith(('_cfg', '_cfgs')) or key == 'type':
            continue
        _check_model_node(value, f'{path}.{key}', scope, errors)


def check_config_keys(cfg: Config,
                      file_keys: Optional[Set[str]] = None,
                      cfg_options: Optional[dict] = None,
                      config_file: str = '') -> None:
    """Fail on config keys that would be silently ignored or fail late.

    mmengine ignores unknown top-level keys (a config may define helper
    variables such as ``train_pipeline``), so a misspelt ``trian_cfg``
    silently trains with the base schedule. Errors (all reported at once):

    - a top-level key, not read by the runner, within
      :data:`NEAR_MISS` similarity of one that is (keys starting with
      ``_`` are private helpers and never flagged);
    - a ``--cfg-options`` key whose top level is neither in the config file
      nor read by the runner (``max_epochs=5`` instead of
      ``train_cfg.max_epochs=5``);
    - a key of a ``model`` node that the class named by its ``type`` does
      not take (``model.backbone.dpeth``), checked against the class
      signature; mmengine would raise a ``TypeError`` only while building.

    Args:
        cfg (Config): The config after ``--cfg-options``.
        file_keys (set[str], optional): Top-level keys of the file before
            ``--cfg-options``. Defaults to the keys of ``cfg``.
        cfg_options (dict, optional): The ``--cfg-options``.
        config_file (str): Shown in the message.

    Raises:
        UsageError: Naming each key, the nearest known key and the fix.
    """
    known = runner_keys()
    allowed = known | set(OTHER_KNOWN_KEYS)
    file_keys = set(cfg.keys()) if file_keys is None else file_keys
    errors = []
    for key in sorted(file_keys):
        if key in allowed or key.startswith('_'):
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=NEAR_MISS)
        if near:
            errors.append(f"top-level key '{key}' is not read by the runner"
                          + _hint(near[0]) + ' (a helper variable this '
                          'close to a runner key needs another name)')
    for key in sorted(cfg_options or {}):
        top = key.split('.')[0]
        if top not in file_keys and top not in allowed:
            tops = difflib.get_close_matches(
                top, sorted(file_keys | known), n=1, cutoff=0.6)
            near = tops[0] + key[len(top):] if tops else _nearest(
                key, _dotted_keys(cfg.to_dict()))
            errors.append(f"--cfg-options '{key}': the config has no "
                          f"top-level key '{top}' and the runner does not "
                          'read it' + _hint(near))
    if isinstance(cfg.get('model'), dict):
        _check_model_node(cfg.model, 'model',
                          cfg.get('default_scope') or 'mmpretrain', errors)
    if errors:
        where = f' in {config_file}' if config_file else ''
        raise UsageError(
            f'unknown config key(s){where} (fix the config file or the '
            '--cfg-options):\n  ' + '\n  '.join(errors))


# ---------------------------------------------------------------------------
# Work dir
# ---------------------------------------------------------------------------
def existing_checkpoints(work_dir: str) -> List[str]:
    """Names of the run files (:data:`CHECKPOINT_PATTERNS`) in
    ``work_dir``."""
    found = set()
    for pattern in CHECKPOINT_PATTERNS:
        found.update(
            osp.basename(p) for p in glob.glob(osp.join(work_dir, pattern))
            if osp.isfile(p))
    return sorted(found)


def _latest(work_dir: str, names: List[str]) -> Optional[str]:
    ckpts = [osp.join(work_dir, n) for n in names if n.endswith('.pth')]
    return max(ckpts, key=osp.getmtime) if ckpts else None


def check_work_dir(cfg: Config, args: argparse.Namespace) -> None:
    """Never let a new run overwrite another run's checkpoints unasked.

    Args:
        cfg (Config): The config (``work_dir`` set).
        args (argparse.Namespace): ``resume`` and ``overwrite``.

    Raises:
        UsageError: The work dir holds checkpoints and neither ``--resume``
            nor ``--overwrite`` was given; or ``--resume`` (no path) finds
            a ``last_checkpoint`` pointing to a missing file, or checkpoints
            but no ``last_checkpoint``.
    """
    work_dir = cfg.work_dir
    found = existing_checkpoints(work_dir)
    if not found:
        return
    latest = _latest(work_dir, found)
    shown = ', '.join(found[:6]) + (', ...' if len(found) > 6 else '')
    if args.resume == 'auto':
        pointer = osp.join(work_dir, 'last_checkpoint')
        # what mmengine's auto-resume reads (None: no pointer file)
        target = find_latest_checkpoint(work_dir)
        if target is None:
            raise UsageError(
                f'--resume: {work_dir!r} holds checkpoints ({shown}) but no '
                'last_checkpoint file, so mmengine would start from scratch '
                'and overwrite them. Name the checkpoint to resume from: '
                f'--resume {latest or "PATH"}.')
        if not target or not osp.isfile(target):
            raise UsageError(
                f'--resume: {pointer!r} points to {target!r}, which does not '
                f'exist. Name a checkpoint to resume from: --resume '
                f'{latest or "PATH"}.')
        return
    if args.resume is not None:
        return  # an explicit checkpoint: the user chose
    if args.overwrite:
        print_log(
            f'--overwrite: {work_dir!r} holds {shown}; checkpoints of the '
            'new run replace same-named files there.',
            logger='current',
            level=logging.WARNING)
        return
    raise UsageError(
        f'work dir {work_dir!r} already holds checkpoints of another run '
        f'({shown}); a new run there would overwrite them. Add --resume to '
        'continue that run (from last_checkpoint), --work-dir NEW_DIR to '
        'start a new run elsewhere, or --overwrite to start over in this '
        'folder.')


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
    """Entry point.

    Raises:
        SystemExit: With the message of a :class:`UsageError` (bad config
            key, work dir holding another run's checkpoints).
    """
    args = parse_args(argv)
    try:
        cfg = merge_train_args(load_config(args), args)
        check_work_dir(cfg, args)
    except UsageError as err:
        raise SystemExit(f'tools/train.py: error: {err}') from None
    runner = build_runner(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()
