"""BrainMVP's three phases: MD + MD, then MD + CMR, then with CL."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mics_mm.registry import HOOKS

__all__ = ['BrainMVPScheduleHook']


@HOOKS.register_module()
class BrainMVPScheduleHook(Hook):
    """The phases of BrainMVP pre-training (docs/methods.md, "BrainMVP:
    schedule"), as the release runs them:

    1. until ``cmr_start`` both views are template (MD) views, so the
       templates learn fast (the release: epochs 0-300);
    2. from ``cmr_start`` the second view is a cross-modal (CMR) view; the
       MD view never stops;
    3. from ``cl_start`` the contrastive loss is on (the release's launch
       script: epoch 1000).

    Before each training iteration it sets ``model.use_cmr = progress >=
    cmr_start``, ``model.use_cl = progress >= cl_start`` and, only if
    ``md_end`` is given (not the release), ``model.use_md = progress <
    md_end``; progress is the 0-based epoch (``by_epoch=True``) or the
    iteration. ``None`` leaves that switch as the model was built. The
    switches derive from the runner's counters only, so a resumed run gets
    the same phase. The phase is logged as ``phase`` (1, 2 or 3) when it
    changes.

    Args:
        cmr_start (int, optional): First epoch / iteration whose second view
            is a CMR view. Defaults to None.
        cl_start (int, optional): First epoch / iteration with the
            contrastive loss. Defaults to None.
        md_end (int, optional): First epoch / iteration without the MD view
            (an option; the release keeps MD to the end). Defaults to None.
        by_epoch (bool): Count epochs, else iterations. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 cmr_start: Optional[int] = None,
                 cl_start: Optional[int] = None,
                 md_end: Optional[int] = None,
                 by_epoch: bool = True) -> None:
        self.cmr_start = cmr_start
        self.cl_start = cl_start
        self.md_end = md_end
        self.by_epoch = by_epoch
        self._phase = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        progress = runner.epoch if self.by_epoch else runner.iter
        if self.cmr_start is not None:
            model.use_cmr = progress >= self.cmr_start
        if self.cl_start is not None:
            model.use_cl = progress >= self.cl_start
        if self.md_end is not None:
            model.use_md = progress < self.md_end
        phase = 3 if model.use_cl else (2 if model.use_cmr else 1)
        if phase != self._phase:
            unit = 'epoch' if self.by_epoch else 'iteration'
            runner.logger.info(
                f'BrainMVP phase {phase} from {unit} {progress}: '
                f'view 2 {"CMR" if model.use_cmr else "MD"}, contrastive '
                f'loss {"on" if model.use_cl else "off"}'
                + ('' if model.use_md else ', no MD view'))
            self._phase = phase
        runner.message_hub.update_scalar('train/phase', phase)
