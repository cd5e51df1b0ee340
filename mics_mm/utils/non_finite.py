"""Non-finite loss checks shared by models and :class:`NonFiniteLossHook`.

Kept below both layers: a model that runs its own optimizer steps (MICS)
asks :func:`guarded` whether the hook already checks a wrapper, and stops by
itself with :func:`stop_if_non_finite` when it does not.
"""
from typing import Dict, List, Optional

import torch

__all__ = [
    'GUARD_ATTR', 'NON_FINITE_FIX', 'non_finite_terms', 'stop_if_non_finite',
    'guarded'
]

GUARD_ATTR = '_mics_non_finite_guard'
NON_FINITE_FIX = ('Lower the learning rate, enable gradient clipping '
        '(optim_wrapper.clip_grad=dict(max_norm=...)) or check the inputs, '
        'then resume from the last checkpoint (tools/train.py CONFIG '
        '--resume); or set default_hooks.non_finite.policy=\'skip\' to skip '
        'such steps. See docs/reliability.md.')


def non_finite_terms(log_vars: Optional[Dict[str, torch.Tensor]]
                     ) -> List[str]:
    """``'name=value'`` for every logged value that is NaN or inf.

    Args:
        log_vars (dict, optional): The second output of ``parse_losses``.

    Returns:
        list[str]: E.g. ``['loss=nan', 'loss_recon=nan']``.
    """
    bad = []
    for name, value in (log_vars or {}).items():
        value = torch.as_tensor(value).detach()
        if value.is_floating_point() and not torch.isfinite(value).all():
            shown = value.item() if value.numel() == 1 else 'non-finite'
            bad.append(f'{name}={shown}')
    return bad


def stop_if_non_finite(log_vars: Dict[str, torch.Tensor],
                       owner: str) -> None:
    """The ``'stop'`` policy for code that runs without the hook.

    Args:
        log_vars (dict): Loss terms (``parse_losses``' second output).
        owner (str): Name used in the message.

    Raises:
        FloatingPointError: Naming the non-finite terms.
    """
    bad = non_finite_terms(log_vars)
    if bad:
        raise FloatingPointError(
            f'{owner}: non-finite loss ({", ".join(bad)}); training stopped '
            f'before the update, so no NaN reaches the weights. {NON_FINITE_FIX}')


def guarded(optim_wrapper) -> bool:
    """Whether :class:`NonFiniteLossHook` checks this wrapper's
    ``update_params`` (models then leave the decision to it)."""
    return bool(getattr(optim_wrapper, GUARD_ATTR, False))
