"""Ramp of the consistency loss' soft-target weight over the first epoch."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mics_mm.registry import HOOKS


@HOOKS.register_module()
class MICSAlphaWarmupHook(Hook):
    """Ramp ``head.alpha_scale`` of the consistency head from 0 to 1.

    The public MICS/ALBEF code uses ``alpha * min(1, i / len(loader))`` in
    the first epoch (docs/methods.md, "MICS: release facts"). Before every training iteration
    this hook sets ``alpha_scale = min(1, (iter + 1) / warmup_iters)`` with
    ``warmup_iters = warmup_epochs * len(train_dataloader)`` (or
    ``warmup_iters`` when given). It is derived from ``runner.iter`` alone,
    so a resumed run continues the same ramp.

    Args:
        warmup_epochs (float): Length of the ramp in epochs. Defaults to 1.
        warmup_iters (int, optional): Length in iterations; overrides
            ``warmup_epochs``. Defaults to None.
        head (str): Attribute of the model holding the head. Defaults to
            'head'.
    """

    priority = 'NORMAL'

    def __init__(self,
                 warmup_epochs: float = 1.0,
                 warmup_iters: Optional[int] = None,
                 head: str = 'head') -> None:
        self.warmup_epochs = warmup_epochs
        self.warmup_iters = warmup_iters
        self.head = head

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, self.head, None)
        if head is None or not hasattr(head, 'alpha_scale'):
            return
        total = self.warmup_iters
        if total is None:
            total = self.warmup_epochs * len(runner.train_dataloader)
        head.alpha_scale = 1.0 if total <= 0 else min(
            1.0, (runner.iter + 1) / total)
