"""The runner every mics_mm config names (``runner_type='SafeRunner'``)."""
import copy
import os.path as osp
from typing import Any, Iterator, Union

from mmengine.config import Config, ConfigDict
from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ...utils.checkpoint_io import (CheckpointReadError, explain_read_error,
                                    is_read_error, read_checkpoint)
from .config_check import check_config_keys
from .launch import (adapt_cfg_for_cpu_distributed, cpu_run_allowed,
                     init_cpu_distributed)
from .work_dir import check_work_dir

__all__ = ['SafeRunner']


def _pretrained_checkpoints(model) -> Iterator[str]:
    """Local checkpoints named by ``init_cfg=dict(type='Pretrained')`` of
    any submodule."""
    for module in model.modules():
        init_cfg = getattr(module, 'init_cfg', None)
        for cfg in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                path = cfg.get('checkpoint')
                if isinstance(path, str) and '://' not in path:
                    yield osp.expanduser(path)


@RUNNERS.register_module()
class SafeRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner` with this project's
    start-up checks, chosen by ``runner_type='SafeRunner'`` in
    ``configs/_base_/default_runtime.py`` and ``seg_runtime.py``. mmpretrain's
    and mmseg's packaged ``tools/train.py`` honour ``runner_type``, so the
    checks hold through them too (docs/reliability.md):

    - **config keys** (:func:`.config_check.check_config_keys`): a near-miss
      of a runner key (``trian_cfg``) and a ``model.*`` key the class does
      not take fail before anything is built;
    - **device**: a run may use the CPU only when no GPU exists or the user
      asks for it; a machine whose GPUs torch cannot use stops with an
      error (:func:`.launch.cpu_run_allowed`). A launcher-started run on
      CPU gets a gloo process group and a CPU DDP wrapper, made here with
      torch's own calls (:func:`.launch.init_cpu_distributed`);
    - **work dir** (:func:`.work_dir.check_work_dir`, at :meth:`train`): a
      new run refuses a work dir holding another run's checkpoints unless
      it resumes, or ``overwrite_work_dir=True`` (``tools/train.py
      --overwrite``);
    - **checkpoints**: a ``default_hooks.checkpoint`` of type
      ``CheckpointHook`` becomes :class:`~mics_mm.engine.hooks.
      SafeCheckpointHook` (same arguments);
    - **unreadable checkpoints**: ``resume``, ``load_from`` and
      ``init_cfg=dict(type='Pretrained')`` name the file that cannot be
      read and the fix (:class:`~mics_mm.utils.checkpoint_io.
      CheckpointReadError`).

    Registered in mmengine's root ``RUNNERS`` so that every scope (mmpretrain
    and mmseg configs alike) finds it. Takes the same arguments as
    :class:`Runner`, plus ``overwrite_work_dir`` (bool, default False).
    """

    def __init__(self, *args, overwrite_work_dir: bool = False,
                 **kwargs) -> None:
        self._overwrite_work_dir = overwrite_work_dir
        super().__init__(*args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg: Union[Config, ConfigDict]) -> 'SafeRunner':
        """Check the config, adapt a CPU launch, then build as mmengine
        does.

        Args:
            cfg (Config | ConfigDict): The whole config.

        Returns:
            SafeRunner: The runner.
        """
        cfg = copy.deepcopy(cfg)
        check_config_keys(cfg, config_file=getattr(cfg, 'filename', '') or '')
        ckpt_hook = (cfg.get('default_hooks') or {}).get('checkpoint')
        if isinstance(ckpt_hook, dict) and ckpt_hook.get('type') in (
                'CheckpointHook', 'mmengine.CheckpointHook'):
            # same arguments; atomic, finite, loadable with weights_only
            ckpt_hook['type'] = 'SafeCheckpointHook'
            print_log('SafeRunner: default_hooks.checkpoint is '
                      'SafeCheckpointHook (CheckpointHook, made safe to kill '
                      'and to load; docs/reliability.md).', logger='current')
        launcher = cfg.get('launcher', 'none')
        if cpu_run_allowed() and launcher != 'none':
            adapt_cfg_for_cpu_distributed(cfg)
        runner = super().from_cfg(cfg)
        runner._overwrite_work_dir = bool(cfg.get('overwrite_work_dir'))
        return runner

    def setup_env(self, env_cfg: dict) -> None:
        """Create a gloo process group first when a launcher-started run is
        on CPU; mmengine then finds it initialised (and pins no CUDA
        device)."""
        if self.distributed and not is_distributed() and cpu_run_allowed():
            dist_cfg = dict(env_cfg.get('dist_cfg') or {})
            init_cpu_distributed(self.launcher, **dist_cfg)
        super().setup_env(env_cfg)

    def train(self):
        """Check the work dir (:func:`.work_dir.check_work_dir`), then
        train."""
        check_work_dir(
            self.work_dir,
            resume=self._resume,
            load_from=self._load_from,
            overwrite=self._overwrite_work_dir)
        return super().train()

    def load_checkpoint(self, filename: str, *args, **kwargs) -> Any:
        """:meth:`Runner.load_checkpoint` (``load_from`` and ``resume``),
        naming the file when it cannot be read."""
        try:
            return super().load_checkpoint(filename, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 (re-raised unless a read)
            if is_read_error(err) and osp.isfile(osp.expanduser(filename)):
                raise explain_read_error(osp.expanduser(filename),
                                         err) from err
            raise

    def _init_model_weights(self) -> None:
        """:meth:`Runner._init_model_weights`, naming a ``Pretrained``
        checkpoint that cannot be read."""
        try:
            super()._init_model_weights()
        except Exception as err:  # noqa: BLE001 (re-raised unless a read)
            if not is_read_error(err):
                raise
            model = self.model.module if is_model_wrapper(
                self.model) else self.model
            for path in _pretrained_checkpoints(model):
                if not osp.isfile(path):
                    continue
                try:  # the error path only: find the file that fails
                    read_checkpoint(path)
                except CheckpointReadError as read_err:
                    raise read_err from err
            raise
