"""Validate and complete the loss-weight dict of an algorithm config."""
from typing import Dict, Mapping, Optional


def merge_loss_weights(defaults: Mapping[str, float],
                       given: Optional[Mapping[str, float]],
                       owner: str) -> Dict[str, float]:
    """Defaults overridden by ``given``; an unknown key is an error.

    Args:
        defaults (Mapping[str, float]): Every valid term and its default.
        given (Mapping[str, float], optional): The config's weights.
        owner (str): Name used in the error message.

    Returns:
        dict[str, float]: One weight per term.
    """
    unknown = set(given or {}) - set(defaults)
    if unknown:
        raise KeyError(f'{owner}: unknown loss_weights keys {sorted(unknown)};'
                       f' valid keys are {sorted(defaults)}.')
    weights = dict(defaults)
    weights.update(given or {})
    return weights
