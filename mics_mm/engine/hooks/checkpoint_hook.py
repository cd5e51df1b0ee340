"""Checkpoints that survive a kill, refuse NaN and load without pickle."""
from typing import List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...utils.checkpoint_io import NonFiniteCheckpointError, non_finite_tensors
from ...utils.plain_state import from_plain, to_plain
from ..fileio import ATOMIC_LOCAL

__all__ = ['SafeCheckpointHook']

#: Checkpoint entries rewritten by :func:`to_plain` (the others hold
#: tensors and plain containers already).
_PLAIN_KEYS = ('meta', 'message_hub')


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook`, made safe to kill
    and safe to load (``default_hooks.checkpoint`` of every runtime config;
    docs/reliability.md).

    Differences, all through mmengine's extension points:

    - **atomic files**: for a local ``out_dir`` (the default) checkpoints
      are written through the :class:`~mics_mm.engine.fileio.
      AtomicLocalBackend` (``backend_args=dict(backend='atomic_local')``),
      so ``epoch_N.pth`` holds the previous or the complete new file, never
      a truncated one. A given ``backend_args`` / ``file_client_args`` or a
      remote ``out_dir`` is used as it is.
    - **save, then prune**: mmengine deletes the oldest kept checkpoint
      (``max_keep_ckpts``) *before* saving the new one, so a run killed in
      between was left with ``last_checkpoint`` pointing at a deleted file.
      Here the parent saves (and points ``last_checkpoint`` at the new file)
      with its pruning off, and the outdated files are deleted afterwards.
      The bookkeeping (``keep_ckpt_ids`` in the message hub) is mmengine's.
    - **no NaN**: :meth:`before_save_checkpoint` refuses a checkpoint whose
      weights hold NaN / inf (:class:`~mics_mm.utils.checkpoint_io.
      NonFiniteCheckpointError`, naming the file's tensors) before anything
      is written; earlier checkpoints and ``last_checkpoint`` stay.
    - **plain content**: the message hub's ``HistoryBuffer`` objects and
      NumPy values are stored as tensors and plain containers
      (:func:`~mics_mm.utils.plain_state.to_plain`) and restored after
      loading, so the files load with torch's default
      ``weights_only=True``.

    Registered in mmengine's root ``HOOKS`` so mmpretrain and mmseg configs
    alike find it. Arguments are :class:`CheckpointHook`'s.
    """

    def __init__(self, *args, **kwargs) -> None:
        out_dir = kwargs.get('out_dir')
        if (kwargs.get('backend_args') is None
                and kwargs.get('file_client_args') is None
                and (out_dir is None or '://' not in str(out_dir))):
            kwargs['backend_args'] = dict(backend=ATOMIC_LOCAL)
        super().__init__(*args, **kwargs)

    def _outdated_after(self, runner, step: int) -> List[int]:
        """mmengine's ``keep_ckpt_ids`` bookkeeping for a save at ``step``;
        returns the steps whose files are to be deleted after it."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids
                                        and self.keep_ckpt_ids[-1] == step):
            return []
        outdated = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            outdated.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))
        return outdated

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = self._outdated_after(runner, step)
        max_keep, self.max_keep_ckpts = self.max_keep_ckpts, -1
        try:  # the parent saves and writes last_checkpoint, pruning off
            super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self.max_keep_ckpts = max_keep
        if not is_main_process():
            return
        for old in outdated:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed saves folders
                self.file_backend.rmtree(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse non-finite weights; store plain content."""
        bad = non_finite_tensors(checkpoint)
        if bad:
            meta = checkpoint.get('meta') or {}
            step = meta.get('epoch' if self.by_epoch else 'iter')
            name = self.filename_tmpl.format(step) if step else 'checkpoint'
            raise NonFiniteCheckpointError(
                f'Refusing to save {name} in {runner.work_dir!r}: the model '
                f'holds non-finite values in {len(bad)} tensor(s): '
                f'{bad[:5]}. Nothing was written; the earlier checkpoints '
                'and last_checkpoint are unchanged. Training diverged: lower '
                'the learning rate, enable gradient clipping '
                '(optim_wrapper.clip_grad), check the inputs, then resume '
                'from the last good checkpoint (`tools/train.py CONFIG '
                '--resume PATH`); see docs/reliability.md.')
        for key in _PLAIN_KEYS:
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore what :meth:`before_save_checkpoint` made plain."""
        for key in _PLAIN_KEYS:
            if key in checkpoint:
                checkpoint[key] = from_plain(checkpoint[key])
