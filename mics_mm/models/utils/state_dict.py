"""Load weights strictly, with an error that says what does not match."""
from typing import Dict, List

import torch
from torch import nn

__all__ = ['load_matching_weights']


def load_matching_weights(module: nn.Module,
                          weights: Dict[str, torch.Tensor],
                          source: str,
                          what: str,
                          hint: str = '',
                          prefix: str = '') -> List[str]:
    """Load every tensor of ``module`` from ``weights``, or raise.

    ``weights`` must hold every key of ``module.state_dict()`` with the same
    shape; extra keys (e.g. a pre-training mask token) are ignored and
    returned. A missing key or a shape mismatch raises a ``ValueError``
    naming ``source``, ``what`` is being loaded, the first offending key
    (with ``prefix``, as it is spelt in the checkpoint) and ``hint``.

    Args:
        module (nn.Module): Receives the weights.
        weights (dict[str, Tensor]): Candidate tensors, keys relative to
            ``module``.
        source (str): The checkpoint, for messages.
        what (str): What is loaded, e.g. ``"the 'wli' encoder"``.
        hint (str): The fix to suggest. Defaults to ''.
        prefix (str): Key prefix of ``weights`` in the checkpoint, for
            messages. Defaults to ''.

    Returns:
        list[str]: Keys of ``weights`` that ``module`` does not have.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    if missing:
        raise ValueError(
            f'{source!r} lacks {len(missing)} of the {len(own)} weights of '
            f'{what} (e.g. {prefix}{missing[0]}). {hint}'.rstrip())
    wrong = [k for k in own if weights[k].shape != own[k].shape]
    if wrong:
        key = wrong[0]
        raise ValueError(
            f'{source!r} does not match {what}: shape mismatch at '
            f'{prefix}{key}, {tuple(weights[key].shape)} in the checkpoint '
            f'vs {tuple(own[key].shape)}. {hint}'.rstrip())
    module.load_state_dict({k: weights[k] for k in own})
    return sorted(set(weights) - set(own))


