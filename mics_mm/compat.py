"""Compatibility fixes for the pinned OpenMMLab stack (see ``STACK.md``).

Importing :mod:`mics_mm` imports this module first; :func:`apply_all` runs at
import time and is idempotent. The fixes:

1. **Checkpoint loading on torch >= 2.6.** torch now defaults to
   ``torch.load(weights_only=True)``, which refuses mmengine's own checkpoints
   (their ``message_hub`` holds ``HistoryBuffer`` objects), so ``resume``,
   ``load_from`` and ``init_cfg=dict(type='Pretrained')`` of a local file
   fail. :func:`load_from_local_trusted` replaces mmengine's local-file
   loader and calls ``torch.load(..., weights_only=False)``. This unpickles
   arbitrary objects: **load trusted checkpoints only**. (``http(s)://``
   checkpoints already go through ``torch.hub.load_state_dict_from_url``,
   whose default is ``weights_only=False``.)
2. **Distributed training without a GPU.** mmengine's launcher initialisers
   always pin a CUDA device and use the configured backend (``nccl`` by
   default). Without an accelerator they now skip the device pinning and use
   ``gloo``; :func:`adapt_cfg_for_cpu_distributed` edits a config so DDP
   itself runs on CPU.
3. **mmseg under mmcv-lite.** When ``mmcv._ext`` is missing,
   :mod:`mics_mm._mmcv_ops_fallback` is installed as ``mmcv.ops`` so that
   ``import mmseg.models`` works; compiled ops raise a clear error when used.
"""
import atexit
import contextlib
import functools
import importlib.util
import os.path as osp
from typing import Any, Callable, Dict, Iterator, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version

__all__ = [
    'apply_all', 'load_from_local_trusted', 'patch_checkpoint_loader',
    'patch_dist_init', 'install_mmcv_ops_fallback', 'has_accelerator',
    'adapt_cfg_for_cpu_distributed', 'finish_distributed'
]

#: Backends that work without an accelerator; others are replaced by gloo.
CPU_BACKENDS = ('gloo', 'mpi')


# ---------------------------------------------------------------------------
# 1. Checkpoint loading
# ---------------------------------------------------------------------------
def load_from_local_trusted(filename: str,
                            map_location: Any = None) -> Dict[str, Any]:
    """Load a local checkpoint with ``torch.load(weights_only=False)``.

    Registered as mmengine's loader for local paths (prefix ``''``), so it
    serves ``Runner.resume``, ``load_from``, ``load_checkpoint`` and
    ``Pretrained`` initialisation. Only use it on **trusted checkpoints**:
    unpickling can execute arbitrary code.

    Args:
        filename (str): Path of the checkpoint; ``~`` is expanded.
        map_location (Any): Same as :func:`torch.load`. Defaults to None.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If ``filename`` is not a file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def patch_checkpoint_loader() -> bool:
    """Register :func:`load_from_local_trusted` for local paths on torch >=
    2.6 (idempotent).

    Returns:
        bool: True if the trusted loader is the local loader after the call.
    """
    if digit_version(torch.__version__) < digit_version('2.6.0'):
        return False
    if CheckpointLoader._schemes.get('') is not load_from_local_trusted:
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_from_local_trusted, force=True)
    return True


# ---------------------------------------------------------------------------
# 2. Distributed initialisation without a GPU
# ---------------------------------------------------------------------------
def has_accelerator() -> bool:
    """Whether a device mmengine's launchers know how to pin is present."""
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (torch.cuda.is_available() or is_mlu_available()
            or is_npu_available() or is_musa_available())


@contextlib.contextmanager
def _cuda_set_device_disabled() -> Iterator[None]:
    """Make ``torch.cuda.set_device`` a no-op (there is no device to pin)."""
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda *args, **kwargs: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


def _destroy_process_group() -> None:
    """Tear the process group down before the interpreter exits.

    mmengine never destroys it; a gloo group still alive at shutdown can
    abort the process (``terminate called without an active exception``,
    exit code -6) after a run that itself succeeded.
    """
    if torch.distributed.is_available() and \
            torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def finish_distributed() -> None:
    """End a successful distributed run: wait for every rank, then destroy
    the process group.

    Called by ``tools/train.py`` / ``tools/test.py`` after the runner has
    finished, so no rank tears its connections down while another still
    uses them (a rank exiting early was the suspected cause of a rare
    ``terminate called without an active exception`` abort at exit). Not
    registered at exit: after an exception the other ranks may never reach
    the barrier.
    """
    if torch.distributed.is_available() and \
            torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _cpu_safe(init_fn: Callable) -> Callable:
    """Wrap one of mmengine's ``_init_dist_*`` functions so that, without an
    accelerator, it initialises the process group with a CPU backend (gloo
    unless ``gloo``/``mpi`` was asked for) and pins no CUDA device. With an
    accelerator the original runs unchanged. Either way the process group is
    destroyed at exit (:func:`_destroy_process_group`)."""
    if getattr(init_fn, '_mics_cpu_safe', False):
        return init_fn

    @functools.wraps(init_fn)
    def wrapper(backend: str = 'nccl', *args, **kwargs):
        atexit.register(_destroy_process_group)
        if has_accelerator():
            return init_fn(backend, *args, **kwargs)
        cpu_backend = backend if backend in CPU_BACKENDS else 'gloo'
        if cpu_backend != backend:
            print_log(
                f'No GPU found: initialising torch.distributed with '
                f'backend "{cpu_backend}" instead of "{backend}".',
                logger='current')
        with _cuda_set_device_disabled():
            return init_fn(cpu_backend, *args, **kwargs)

    wrapper._mics_cpu_safe = True  # type: ignore[attr-defined]
    return wrapper


def patch_dist_init() -> None:
    """Make mmengine's pytorch/slurm/mpi launchers work without a GPU
    (idempotent); see :func:`_cpu_safe`."""
    from mmengine.dist import utils as dist_utils
    for name in ('_init_dist_pytorch', '_init_dist_slurm', '_init_dist_mpi'):
        setattr(dist_utils, name, _cpu_safe(getattr(dist_utils, name)))


def _replace_sync_bn(node: Any) -> int:
    """Replace ``SyncBN``/``MMSyncBN`` norm configs by ``BN`` in place."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _replace_sync_bn(value)
    return count


def adapt_cfg_for_cpu_distributed(cfg: Union[Config, ConfigDict]) -> bool:
    """Edit a config in place so a launcher-started (DDP) run works on CPU.

    Does nothing when an accelerator is present. Otherwise:

    - ``model_wrapper_cfg``: keeps its ``type`` (default
      ``'MMDistributedDataParallel'``) and sets ``device_ids=None`` and
      ``broadcast_buffers=False``; a top-level ``find_unused_parameters`` is
      carried over, as mmengine would do for its default wrapper;
    - ``env_cfg.dist_cfg.backend = 'gloo'``;
    - SyncBN only runs on GPUs: ``sync_bn`` is dropped and ``SyncBN`` /
      ``MMSyncBN`` norm configs in ``cfg.model`` become ``BN`` (2d).

    Args:
        cfg (Config | ConfigDict): The config to edit.

    Returns:
        bool: True if the config was changed for CPU.
    """
    if has_accelerator():
        return False
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    wrapper.update(device_ids=None, broadcast_buffers=False)
    cfg.model_wrapper_cfg = wrapper

    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg

    replaced = _replace_sync_bn(cfg.get('model'))
    if cfg.pop('sync_bn', None) is not None or replaced:
        print_log(
            'No GPU found: SyncBN is not available on CPU, using BN instead.',
            logger='current')
    return True


# ---------------------------------------------------------------------------
# 3. mmcv.ops under mmcv-lite
# ---------------------------------------------------------------------------
def _mmcv_compiled_ops_available() -> Optional[bool]:
    """True/False whether ``mmcv._ext`` exists; None if mmcv is absent."""
    if importlib.util.find_spec('mmcv') is None:
        return None
    return importlib.util.find_spec('mmcv._ext') is not None


def install_mmcv_ops_fallback() -> bool:
    """Install :mod:`mics_mm._mmcv_ops_fallback` as ``mmcv.ops`` when mmcv is
    installed without its compiled ops (idempotent).

    Returns:
        bool: True if the fallback is in use after the call.
    """
    if _mmcv_compiled_ops_available() is not False:
        return False
    from . import _mmcv_ops_fallback
    return _mmcv_ops_fallback.install()


def apply_all() -> None:
    """Apply every fix of this module (idempotent)."""
    patch_checkpoint_loader()
    patch_dist_init()
    install_mmcv_ops_fallback()


apply_all()
