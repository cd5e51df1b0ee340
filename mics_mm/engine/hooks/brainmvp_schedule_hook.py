"""Switch BrainMVP's contrastive loss on and its template period off."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mics_mm.registry import HOOKS


@HOOKS.register_module()
class BrainMVPScheduleHook(Hook):
    """Schedule switches of BrainMVP (docs/methods.md, "BrainMVP decision 2").

    Before each training iteration: ``model.use_cl = progress >= cl_start``
    and ``model.use_templates = progress < template_end``, where progress is
    the epoch (``by_epoch=True``, 0-based) or the iteration. ``None`` leaves
    that switch as the model was built. Derived from the runner's counters
    only, so a resumed run gets the same switches.

    Args:
        cl_start (int, optional): First epoch / iteration with the
            contrastive loss. Defaults to None.
        template_end (int, optional): First epoch / iteration without the
            template (MD) view. Defaults to None.
        by_epoch (bool): Count epochs, else iterations. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 cl_start: Optional[int] = None,
                 template_end: Optional[int] = None,
                 by_epoch: bool = True) -> None:
        self.cl_start = cl_start
        self.template_end = template_end
        self.by_epoch = by_epoch

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        progress = runner.epoch if self.by_epoch else runner.iter
        if self.cl_start is not None:
            model.use_cl = progress >= self.cl_start
        if self.template_end is not None:
            model.use_templates = progress < self.template_end
