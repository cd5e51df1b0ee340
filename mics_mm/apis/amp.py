"""Switch a config's optimizer wrapper(s) to mixed precision."""
from typing import Union

from mmengine.config import ConfigDict

__all__ = ['enable_amp']

_PLAIN_WRAPPERS = (None, 'OptimWrapper', 'AmpOptimWrapper')


def _make_amp(wrapper: Union[dict, ConfigDict], name: str = '') -> None:
    wrapper_type = wrapper.get('type')
    if wrapper_type not in _PLAIN_WRAPPERS:
        raise ValueError(
            f'--amp only converts OptimWrapper to AmpOptimWrapper, but the '
            f'optim_wrapper{name} type is {wrapper_type!r}; enable mixed '
            'precision in the config instead.')
    wrapper['type'] = 'AmpOptimWrapper'
    wrapper.setdefault('loss_scale', 'dynamic')


def enable_amp(optim_wrapper: Union[dict, ConfigDict]) -> None:
    """Switch an ``optim_wrapper`` config to ``AmpOptimWrapper`` in place.

    A single wrapper (it has a ``type`` or ``optimizer`` key) is converted
    directly. A dict of wrappers for ``MultiOptimWrapperConstructor`` (a
    ``constructor`` key plus one sub-dict with an ``optimizer`` per part of
    the model) has each sub-wrapper converted. ``loss_scale`` defaults to
    ``'dynamic'``.

    Args:
        optim_wrapper (dict | ConfigDict): ``cfg.optim_wrapper``.

    Raises:
        ValueError: If a wrapper has a custom ``type``, or no wrapper is
            found.
    """
    if 'type' in optim_wrapper or 'optimizer' in optim_wrapper:
        _make_amp(optim_wrapper)
        return
    subs = {
        key: value
        for key, value in optim_wrapper.items()
        if isinstance(value, dict) and 'optimizer' in value
    }
    if 'constructor' not in optim_wrapper or not subs:
        raise ValueError('--amp: cfg.optim_wrapper is neither an optimizer '
                         'wrapper nor a dict of wrappers with a constructor')
    for key, value in subs.items():
        _make_amp(value, name=f'.{key}')
