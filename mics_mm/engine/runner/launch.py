"""Which device a run may use, and distributed start-up without a GPU.

mmengine's launchers always pin a CUDA device before they create the
process group, so ``dist_train.sh`` fails on a machine without GPUs. The
registered :class:`~mics_mm.engine.runner.SafeRunner` calls
:func:`init_cpu_distributed` first when, and only when, the run may use the
CPU (:func:`cpu_run_allowed`): no CUDA device exists, or the user asked for
CPU processes (``MICS_MM_ALLOW_CPU=1``, or ``CUDA_VISIBLE_DEVICES`` set to
an empty string or ``-1``). A machine that has NVIDIA GPUs which torch
cannot use (typically a CUDA wheel newer than the driver) stops with an
error naming both, instead of silently training on CPU processes. Nothing
of torch or mmengine is replaced: the process group is created with
``torch.distributed`` itself and mmengine then finds it initialised.
docs/reliability.md, "Distributed runs and devices".
"""
import atexit
import glob
import os
import shutil
import subprocess
from typing import Optional, Union

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

__all__ = [
    'ALLOW_CPU_ENV', 'DeviceUnusableError', 'has_accelerator',
    'nvidia_gpus_present', 'cpu_run_allowed', 'init_cpu_distributed',
    'adapt_cfg_for_cpu_distributed', 'finish_distributed'
]

#: Environment variable that lets a machine with unusable GPUs run on CPU.
ALLOW_CPU_ENV = 'MICS_MM_ALLOW_CPU'
#: Backends that work without an accelerator; others are replaced by gloo.
CPU_BACKENDS = ('gloo', 'mpi')


class DeviceUnusableError(RuntimeError):
    """GPUs are present but torch cannot use them."""


def has_accelerator() -> bool:
    """Whether a device mmengine's launchers know how to pin is usable."""
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (torch.cuda.is_available() or is_mlu_available()
            or is_npu_available() or is_musa_available())


def _env_flag(name: str) -> bool:
    return os.environ.get(name, '').strip().lower() in ('1', 'true', 'yes')


def _cuda_hidden_by_user() -> bool:
    """``CUDA_VISIBLE_DEVICES`` set to nothing (or -1): the user chose the
    CPU."""
    value = os.environ.get('CUDA_VISIBLE_DEVICES')
    return value is not None and value.strip() in ('', '-1')


def nvidia_gpus_present() -> int:
    """The number of NVIDIA GPUs the machine shows, whatever torch can do
    with them (device nodes ``/dev/nvidia<N>``, else ``nvidia-smi -L``)."""
    nodes = [p for p in glob.glob('/dev/nvidia[0-9]*')
             if os.path.basename(p)[6:].isdigit()]
    if nodes:
        return len(nodes)
    if shutil.which('nvidia-smi'):
        try:
            out = subprocess.run(['nvidia-smi', '-L'], capture_output=True,
                                 text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return 0
        return sum(line.startswith('GPU ') for line in out.splitlines())
    return 0


def _driver_version() -> str:
    if not shutil.which('nvidia-smi'):
        return 'unknown (no nvidia-smi)'
    try:
        out = subprocess.run(
            ['nvidia-smi', '--query-gpu=driver_version',
             '--format=csv,noheader'],
            capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    return out.splitlines()[0] if out else 'unknown'


def _cuda_failure() -> str:
    """What torch says when it tries to initialise CUDA."""
    try:
        torch.cuda.init()
    except Exception as err:  # noqa: BLE001 (the message is the point)
        return str(err).strip().splitlines()[0]
    return 'torch.cuda.is_available() is False'


def cpu_run_allowed() -> bool:
    """Whether this process may train on the CPU.

    Returns:
        bool: False when an accelerator is usable (use it); True when no
        GPU exists or the user asked for the CPU.

    Raises:
        DeviceUnusableError: NVIDIA GPUs are present but torch cannot use
            them, and the user did not ask for the CPU.
    """
    if has_accelerator():
        return False
    if _cuda_hidden_by_user() or _env_flag(ALLOW_CPU_ENV):
        return True
    count = nvidia_gpus_present()
    if count:
        raise DeviceUnusableError(
            f'This machine has {count} NVIDIA GPU(s) (driver '
            f'{_driver_version()}) but torch {torch.__version__} (built for '
            f'CUDA {torch.version.cuda}) cannot use them: {_cuda_failure()}. '
            'Training on CPU processes instead would be silently slow and '
            'would skip NCCL, AMP and SyncBN. Install a torch build for '
            'this driver (docs/install.md, "A CUDA build for your driver"), '
            f'or set {ALLOW_CPU_ENV}=1 (or CUDA_VISIBLE_DEVICES=) to train '
            'on the CPU on purpose.')
    return True


def _slurm_env(port: Optional[int]) -> None:
    """Rank, world size and master address from SLURM, as mmengine's
    ``_init_dist_slurm`` derives them (without pinning a GPU)."""
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ['RANK'] = os.environ['SLURM_PROCID']


def _mpi_env() -> None:
    """Rank and world size from Open MPI, as mmengine's ``_init_dist_mpi``."""
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('The environment variable MASTER_ADDR is not set')
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']


def _destroy_process_group() -> None:
    """Tear the process group down before the interpreter exits: a gloo
    group still alive at shutdown can abort a run that itself succeeded
    (``terminate called without an active exception``)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def init_cpu_distributed(launcher: str,
                         backend: str = 'gloo',
                         port: Optional[int] = None,
                         **kwargs) -> str:
    """Create the process group for CPU processes.

    Args:
        launcher (str): ``'pytorch'`` (torchrun / ``dist_train.sh``),
            ``'slurm'`` or ``'mpi'``.
        backend (str): The configured backend; replaced by ``gloo`` unless
            it is ``gloo`` or ``mpi``. Defaults to 'gloo'.
        port (int, optional): Master port for SLURM (as mmengine's
            ``dist_cfg.port``).
        **kwargs: Passed to ``init_process_group`` (``timeout`` in seconds,
            as mmengine takes it).

    Returns:
        str: The backend used.
    """
    cpu_backend = backend if backend in CPU_BACKENDS else 'gloo'
    if cpu_backend != backend:
        print_log(
            f'No GPU: initialising torch.distributed with backend '
            f'"{cpu_backend}" instead of "{backend}".', logger='current')
    if launcher == 'slurm':
        _slurm_env(port)
    elif launcher == 'mpi':
        _mpi_env()
    elif launcher != 'pytorch':
        raise ValueError(f'Invalid launcher type: {launcher}')
    timeout = kwargs.pop('timeout', None)
    if timeout is not None:
        import datetime
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')
    torch_dist.init_process_group(
        backend=cpu_backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)
    atexit.register(_destroy_process_group)
    return cpu_backend


def _replace_sync_bn(node) -> int:
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
    """Edit a launcher-started (DDP) config in place so it runs on CPU.

    Call only when :func:`cpu_run_allowed` said so. Changes:

    - ``model_wrapper_cfg``: keeps its ``type`` (default
      ``'MMDistributedDataParallel'``), sets ``device_ids=None`` (DDP takes
      no device ids for CPU modules) and ``broadcast_buffers=False``; a
      top-level ``find_unused_parameters`` is carried over, as mmengine
      does for its default wrapper;
    - ``env_cfg.dist_cfg.backend = 'gloo'``;
    - SyncBN runs on GPUs only: ``sync_bn`` is dropped and ``SyncBN`` /
      ``MMSyncBN`` norm configs in ``cfg.model`` become ``BN``.

    Args:
        cfg (Config | ConfigDict): The config to edit.

    Returns:
        bool: True (the config was adapted).
    """
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
            'CPU run: SyncBN needs GPUs, using BN instead.', logger='current')
    return True


def finish_distributed() -> None:
    """End a successful distributed run: wait for every rank, then destroy
    the process group, so no rank tears its connections down while another
    still uses them. Called by ``tools/train.py`` / ``tools/test.py`` after
    the runner has finished; not at exit, because after an exception the
    other ranks may never reach the barrier."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()

