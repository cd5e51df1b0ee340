"""Linear ramp of the distribution-shift (ISDA) strength over training."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mics_mm.registry import HOOKS

__all__ = ['MICSLambdaRampHook']


@HOOKS.register_module()
class MICSLambdaRampHook(Hook):
    """Ramp ``head.lambda_scale`` of ``MICSDistShiftHead`` from 0 to 1.

    ISDA sets the augmentation strength to :math:`\\lambda_0 \\, t / T`
    (docs/methods.md, "MICS decision 8": "strength ramped over training"). Before every
    training iteration this hook sets

    ``lambda_scale = min(1, (runner.iter + 1) / ramp_iters)``, with
    ``ramp_iters = ramp_fraction * runner.max_iters``,

    so the effective strength is ``lambda0 * lambda_scale``. The value is
    derived from ``runner.iter`` alone, so a resumed run continues the same
    ramp. Heads without a ``lambda_scale`` attribute are left alone.

    Args:
        ramp_fraction (float): Fraction of the whole schedule the ramp lasts;
            ``1.0`` is ISDA's schedule, ``0`` switches the ramp off (scale 1
            from the start). Defaults to 1.0.
        head (str): Attribute of the (unwrapped) model holding the head.
            Defaults to 'head'.
    """

    priority = 'NORMAL'

    def __init__(self, ramp_fraction: float = 1.0, head: str = 'head') -> None:
        if ramp_fraction < 0:
            raise ValueError(
                f'ramp_fraction must be >= 0, got {ramp_fraction}')
        self.ramp_fraction = ramp_fraction
        self.head = head

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        """Set the head's ``lambda_scale`` for the coming iteration."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, self.head, None)
        if head is None or not hasattr(head, 'lambda_scale'):
            return
        ramp_iters = self.ramp_fraction * runner.max_iters
        head.lambda_scale = 1.0 if ramp_iters <= 0 else min(
            1.0, (runner.iter + 1) / ramp_iters)
