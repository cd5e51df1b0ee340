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
4. **Atomic, finite checkpoints.** mmengine writes a checkpoint straight
   to its final name and the ``last_checkpoint`` pointer with a plain
   ``open(..., 'w')``, and ``CheckpointHook`` deletes the oldest kept
   checkpoint *before* saving the new one: a run killed while saving leaves
   a truncated ``epoch_N.pth`` (or a pointer to a deleted file) that
   ``--resume`` then picks. Now (:func:`patch_checkpoint_saving`):

   - :func:`save_checkpoint_atomic` replaces mmengine's ``save_checkpoint``
     (the function, and the names ``Runner.save_checkpoint`` and
     ``CheckpointHook`` use): for local paths the bytes go to a hidden
     temporary file in the same folder (``.<name>.<pid>.tmp``), are flushed
     and fsync'ed, and the file is ``os.replace``'d onto its name, so the
     name holds either the previous file or the complete new one. Other
     backends (``pavi://``, ``s3://``, ``backend_args`` naming another
     backend, ...) are written by mmengine's function as before.
   - It first refuses a checkpoint whose ``state_dict`` holds NaN / inf
     (:class:`NonFiniteCheckpointError`, naming the file and the tensors):
     a diverged run never replaces a good checkpoint.
   - ``CheckpointHook._save_checkpoint_with_step`` is
     :func:`checkpoint_hook_save_with_step`: same bookkeeping as mmengine
     0.10.7, but the order is save, then point ``last_checkpoint`` at it
     (atomically, :func:`atomic_write`), then delete checkpoints beyond
     ``max_keep_ckpts``.
   - :func:`load_from_local_trusted` turns an unreadable checkpoint
     (truncated, corrupt, not a checkpoint) into a
     :class:`CheckpointReadError` naming the file and what to do.

   A SIGKILL during a save can leave the temporary file behind; nothing
   reads it, delete it at will.
"""
import atexit
import contextlib
import functools
import importlib.util
import io
import os
import os.path as osp
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.utils import digit_version

__all__ = [
    'apply_all', 'load_from_local_trusted', 'patch_checkpoint_loader',
    'patch_dist_init', 'install_mmcv_ops_fallback', 'has_accelerator',
    'adapt_cfg_for_cpu_distributed', 'finish_distributed',
    'CheckpointReadError', 'NonFiniteCheckpointError', 'atomic_write',
    'non_finite_tensors', 'save_checkpoint_atomic',
    'checkpoint_hook_save_with_step', 'patch_checkpoint_saving'
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
        CheckpointReadError: If it cannot be unpickled (truncated, corrupt
            or not a checkpoint); the message names the file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    except Exception as err:  # noqa: BLE001 (zip, pickle, EOF errors ...)
        raise CheckpointReadError(
            f'Cannot read checkpoint {filename!r} ({os.path.getsize(filename)}'
            f' bytes; {type(err).__name__}: {err}). If it is truncated or '
            'corrupt (e.g. copied, or written by another tool, while it was '
            'being saved) or not a PyTorch checkpoint, give another one '
            '(`--resume PATH`, `load_from=PATH`) or re-create it.') from err


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


# ---------------------------------------------------------------------------
# 4. Atomic, finite checkpoints
# ---------------------------------------------------------------------------
class CheckpointReadError(RuntimeError):
    """A checkpoint file exists but cannot be read (truncated / corrupt)."""


class NonFiniteCheckpointError(FloatingPointError):
    """A checkpoint about to be saved holds NaN / inf weights."""


def _write_all(f: io.BufferedWriter, data: bytes) -> None:
    """Write ``data`` to the open file ``f`` (a separate function so that
    tests can interrupt a write half-way)."""
    f.write(data)


def atomic_write(path: str, data: Union[bytes, str]) -> None:
    """Write a local file so that ``path`` is never seen half-written.

    The data go to ``.<name>.<pid>.tmp`` in the same folder (created if
    missing), are flushed and fsync'ed, and the temporary file is
    ``os.replace``'d onto ``path`` (atomic on POSIX and Windows within one
    file system). On an exception the temporary file is removed and
    ``path`` is untouched; after a SIGKILL it may remain (never read).

    Args:
        path (str): Destination; ``~`` is expanded.
        data (bytes | str): Content; ``str`` is encoded as UTF-8.
    """
    path = osp.abspath(osp.expanduser(path))
    folder, name = osp.split(path)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    tmp = osp.join(folder, f'.{name}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):
        # Make the rename itself durable (POSIX; not possible on Windows).
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def non_finite_tensors(checkpoint: Dict[str, Any]) -> List[str]:
    """Names of the floating-point tensors of a checkpoint's state dicts
    (``state_dict`` and any other top-level ``*state_dict`` entry, e.g. an
    EMA copy) that hold NaN or inf, with the count of bad values.

    Args:
        checkpoint (dict): A checkpoint as mmengine builds it.

    Returns:
        list[str]: E.g. ``['state_dict.backbone.conv1.weight (12 of 432)']``.
    """
    bad = []
    for key, states in checkpoint.items():
        if not (isinstance(key, str) and key.endswith('state_dict')
                and isinstance(states, dict)):
            continue
        for name, value in states.items():
            if isinstance(value, torch.Tensor) and \
                    value.is_floating_point():
                count = int((~torch.isfinite(value)).sum())
                if count:
                    bad.append(f'{key}.{name} ({count} of {value.numel()})')
    return bad


def _is_local(filename: str, file_client_args: Optional[dict],
              backend_args: Optional[dict]) -> bool:
    """Whether mmengine would write ``filename`` with its local backend: no
    ``scheme://`` prefix and no other backend asked for."""
    if file_client_args is not None or '://' in str(filename):
        return False
    return (backend_args or {}).get('backend', 'local') == 'local'


def save_checkpoint_atomic(checkpoint: Dict[str, Any],
                           filename: str,
                           file_client_args: Optional[dict] = None,
                           backend_args: Optional[dict] = None) -> None:
    """mmengine's ``save_checkpoint``, refusing NaN and writing atomically.

    Same arguments as :func:`mmengine.runner.checkpoint.save_checkpoint`.

    Raises:
        NonFiniteCheckpointError: If the weights hold NaN / inf; nothing is
            written, so the previous checkpoints and ``last_checkpoint``
            stay as they were.
    """
    bad = non_finite_tensors(checkpoint)
    if bad:
        raise NonFiniteCheckpointError(
            f'Refusing to save checkpoint {filename!r}: the model holds '
            f'non-finite values in {len(bad)} tensor(s): {bad[:5]}. Nothing '
            'was written; the earlier checkpoints and last_checkpoint are '
            'unchanged. Training diverged: lower the learning rate, enable '
            'gradient clipping (optim_wrapper.clip_grad), check the inputs, '
            'then resume from the last good checkpoint (`tools/train.py '
            'CONFIG --resume PATH`); see docs/reliability.md.')
    if not _is_local(filename, file_client_args, backend_args):
        return _ORIGINAL_SAVE_CHECKPOINT(checkpoint, filename,
                                         file_client_args, backend_args)
    with io.BytesIO() as f:
        torch.save(checkpoint, f)
        atomic_write(filename, f.getvalue())


def checkpoint_hook_save_with_step(self, runner, step: int,
                                   meta: dict) -> None:
    """``CheckpointHook._save_checkpoint_with_step`` made kill-safe.

    The bookkeeping of mmengine 0.10.7 (``keep_ckpt_ids``, ``last_ckpt``
    in the message hub) is unchanged; the order differs: the checkpoint is
    saved first (atomically), then ``last_checkpoint`` is pointed at it
    (atomically), and only then are checkpoints beyond ``max_keep_ckpts``
    deleted. mmengine deletes before saving, so a run killed in between
    was left with a pointer to a deleted file.

    Args:
        self (CheckpointHook): The hook.
        runner (Runner): The runner.
        step (int): Epoch or iteration number of the checkpoint.
        meta (dict): Meta information saved with it.
    """
    from mmengine.dist import is_main_process
    outdated = []
    if self.max_keep_ckpts > 0 and not (
            len(self.keep_ckpt_ids) > 0 and self.keep_ckpt_ids[-1] == step):
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))

    ckpt_filename = self.filename_tmpl.format(step)
    self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
    runner.message_hub.update_info('last_ckpt', self.last_ckpt)
    runner.save_checkpoint(
        self.out_dir,
        ckpt_filename,
        self.file_client_args,
        save_optimizer=self.save_optimizer,
        save_param_scheduler=self.save_param_scheduler,
        meta=meta,
        by_epoch=self.by_epoch,
        backend_args=self.backend_args,
        **self.args)
    # As mmengine: model-parallel ranks stop here; the main process keeps
    # the pointer and removes outdated files.
    if not is_main_process():
        return
    atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
    for old in outdated:
        path = self.file_backend.join_path(self.out_dir,
                                           self.filename_tmpl.format(old))
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed saves folders
            self.file_backend.rmtree(path)


def _original_save_checkpoint() -> Callable:
    from mmengine.runner import checkpoint as ckpt_module
    fn = ckpt_module.save_checkpoint
    return getattr(fn, '_mics_original', fn)


_ORIGINAL_SAVE_CHECKPOINT = _original_save_checkpoint()
save_checkpoint_atomic._mics_original = (  # type: ignore[attr-defined]
    _ORIGINAL_SAVE_CHECKPOINT)


def patch_checkpoint_saving() -> None:
    """Install :func:`save_checkpoint_atomic` and
    :func:`checkpoint_hook_save_with_step` (idempotent)."""
    import mmengine.runner as runner_pkg
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import checkpoint as ckpt_module
    from mmengine.runner import runner as runner_module
    for module in (ckpt_module, runner_module, runner_pkg):
        if getattr(module, 'save_checkpoint', None) is not \
                save_checkpoint_atomic:
            module.save_checkpoint = save_checkpoint_atomic
    if CheckpointHook._save_checkpoint_with_step is not \
            checkpoint_hook_save_with_step:
        CheckpointHook._save_checkpoint_with_step = \
            checkpoint_hook_save_with_step


def apply_all() -> None:
    """Apply every fix of this module (idempotent)."""
    patch_checkpoint_loader()
    patch_dist_init()
    install_mmcv_ops_fallback()
    patch_checkpoint_saving()


apply_all()
