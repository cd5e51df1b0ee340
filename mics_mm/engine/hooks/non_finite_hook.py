"""One policy for non-finite losses, for every model trained by a runner."""
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from mics_mm.registry import HOOKS

from ...utils.non_finite import GUARD_ATTR, NON_FINITE_FIX, non_finite_terms

__all__ = ['NonFiniteLossHook']

POLICIES = ('stop', 'skip')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop or skip a training step whose loss is NaN / inf.

    At ``before_train`` the hook wraps ``update_params`` of every optimizer
    wrapper of the runner (each one of an ``OptimWrapperDict``, e.g. MICS'
    encoder and discriminator) and the model's ``parse_losses`` (to know the
    loss terms). Every model trained by the runner is covered the same way:
    MICS, BrainMVP, mmpretrain classifiers, mmseg segmentors. Before the
    backward pass the loss is checked; in distributed runs the verdict is
    reduced over ranks, so all ranks act together. A non-finite loss then:

    - ``policy='stop'`` (default): raises ``FloatingPointError`` naming the
      iteration, the epoch and the non-finite terms. Nothing was updated and
      no checkpoint is written for that step: the last checkpoint is the
      last good state (``--resume`` continues from it).
    - ``policy='skip'``: the step is dropped (no backward, no optimizer
      step, the learning-rate schedule moves on as usual) with a warning
      naming the same, and the total is logged as ``skipped_steps``.
      Training stops anyway, with the same error, when more than
      ``max_consecutive_skips`` iterations in a row were skipped, or when
      the model's own state is already non-finite (a forward pass can write
      buffers, e.g. BatchNorm running statistics, before any loss exists;
      skipping cannot undo that). MICS' queue and the distribution-shift
      head's class statistics ignore non-finite features themselves.

    Saving refuses non-finite weights in any case
    (:func:`mics_mm.compat.save_checkpoint_atomic`).

    Set in ``configs/_base_/default_runtime.py`` and ``seg_runtime.py`` as
    ``default_hooks.non_finite``; change it with ``--cfg-options
    default_hooks.non_finite.policy=skip``.

    Args:
        policy (str): ``'stop'`` or ``'skip'``. Defaults to ``'stop'``.
        max_consecutive_skips (int): Skipped iterations in a row after which
            training stops. Defaults to 20.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, policy: str = 'stop',
                 max_consecutive_skips: int = 20) -> None:
        if policy not in POLICIES:
            raise ValueError(f'NonFiniteLossHook: policy must be one of '
                             f'{POLICIES}, got {policy!r}.')
        if max_consecutive_skips < 0:
            raise ValueError('NonFiniteLossHook: max_consecutive_skips '
                             f'must be >= 0, got {max_consecutive_skips}.')
        self.policy = policy
        self.max_consecutive_skips = int(max_consecutive_skips)
        self.num_skipped = 0
        self._consecutive = 0
        self._last_skipped_iter: Optional[int] = None
        self._log_vars: Optional[Dict[str, torch.Tensor]] = None
        self._runner = None
        self._patched: list = []

    # ----------------------------------------------------------- install
    def before_train(self, runner) -> None:
        self._runner = runner
        model = _unwrap(runner.model)
        parse_losses = model.parse_losses

        def recording_parse_losses(losses):
            loss, log_vars = parse_losses(losses)
            self._log_vars = log_vars
            return loss, log_vars

        model.parse_losses = recording_parse_losses
        self._patched.append((model, 'parse_losses'))
        wrappers = runner.optim_wrapper
        if isinstance(wrappers, OptimWrapperDict):
            wrappers = list(wrappers.values())
        elif not isinstance(wrappers, (list, tuple)):
            wrappers = [wrappers]
        for wrapper in wrappers:
            self._guard(wrapper)

    def _guard(self, wrapper) -> None:
        update_params = wrapper.update_params

        def checked_update_params(loss, *args, **kwargs):
            if self._finite(loss):
                return update_params(loss, *args, **kwargs)
            self._non_finite()

        wrapper.update_params = checked_update_params
        setattr(wrapper, GUARD_ATTR, True)
        self._patched += [(wrapper, 'update_params'), (wrapper, GUARD_ATTR)]

    def after_train(self, runner) -> None:
        for obj, name in self._patched:
            obj.__dict__.pop(name, None)
        self._patched = []

    # ------------------------------------------------------------ checks
    @staticmethod
    def _finite(loss) -> bool:
        loss = torch.as_tensor(loss)
        bad = (~torch.isfinite(loss.detach())).any().float()
        if get_world_size() > 1:
            all_reduce(bad, op='max')
        return not bool(bad)

    def _where(self) -> str:
        runner = self._runner
        return (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}; '
                '1-based, as in the log)')

    def _non_finite_state(self) -> List[str]:
        """Parameters / buffers of the model that hold NaN or inf."""
        model = _unwrap(self._runner.model)
        bad = [
            name for name, value in list(model.named_parameters()) +
            list(model.named_buffers())
            if value.is_floating_point() and not torch.isfinite(value).all()
        ]
        flag = torch.tensor(float(bool(bad)))
        if get_world_size() > 1:
            all_reduce(flag, op='max')
        if flag and not bad:
            bad = ['(on another rank)']
        return bad

    def _non_finite(self) -> None:
        runner = self._runner
        terms = non_finite_terms(self._log_vars) or [
            'the loss of another rank'
        ]
        what = (f'NonFiniteLossHook: non-finite loss at {self._where()}:'
                f' {", ".join(terms)}')
        if self.policy == 'stop':
            raise FloatingPointError(
                f'{what}. Training stopped before the update (policy '
                f"'stop'): the weights and every saved checkpoint are "
                f'unchanged. {NON_FINITE_FIX}')
        state = self._non_finite_state()
        if state:
            raise FloatingPointError(
                f'{what}; the step cannot be skipped: the model state is '
                f'already non-finite in {state[:5]} (written by the forward '
                'pass or an earlier update). Training stopped; the saved '
                f'checkpoints are unchanged. {NON_FINITE_FIX}')
        if self._last_skipped_iter != runner.iter:
            self._last_skipped_iter = runner.iter
            self.num_skipped += 1
            self._consecutive += 1
        if self._consecutive > self.max_consecutive_skips:
            raise FloatingPointError(
                f'{what}; {self._consecutive} iterations in a row were '
                f'skipped (max_consecutive_skips='
                f'{self.max_consecutive_skips}): training stopped. {NON_FINITE_FIX}')
        runner.logger.warning(
            f'{what}; step skipped (policy \'skip\'; {self.num_skipped} '
            'skipped so far).')
        runner.message_hub.update_scalar('train/skipped_steps',
                                         self.num_skipped)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._last_skipped_iter != runner.iter:
            self._consecutive = 0
