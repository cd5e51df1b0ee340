"""Switch a config's optimizer wrapper(s) to mixed precision.

Two command lines turn on AMP, and both give the same wrappers:

- ours (``tools/train.py --amp``) calls :func:`enable_amp`, which converts
  a single wrapper, or each part of a multi-wrapper config (MICS's
  ``PartwiseOptimWrapperConstructor``: ``generator`` and
  ``discriminator``);
- mmpretrain's packaged ``tools/train.py --amp`` sets
  ``cfg.optim_wrapper.type = 'AmpOptimWrapper'`` (and ``loss_scale``) at
  the top level, which a constructor-based multi-wrapper config does not
  read by itself; ``PartwiseOptimWrapperConstructor`` hands those top-level
  keys to every part with :func:`apply_shared_wrapper_keys`.

mmengine 0.10.7's ``AmpOptimWrapper`` needs an accelerator (CUDA, NPU, MLU
or MUSA): on a CPU-only machine building it fails with mmengine's
``AmpOptimizerWrapper is only available training on gpu, npu, mlu or
musa``, whichever script asked for it.
"""
from typing import Dict, Tuple, Union

from mmengine.config import ConfigDict

__all__ = ['enable_amp', 'SHARED_WRAPPER_KEYS', 'split_shared_wrapper_keys',
           'apply_shared_wrapper_keys']

_PLAIN_WRAPPERS = (None, 'OptimWrapper', 'AmpOptimWrapper')

#: Wrapper keys that may stand at the top level of a multi-wrapper config
#: and then apply to every part (mmpretrain's ``train.py --amp`` writes the
#: first two; ``dtype`` is ``AmpOptimWrapper``'s autocast type).
SHARED_WRAPPER_KEYS = ('type', 'loss_scale', 'dtype')


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


def split_shared_wrapper_keys(
        optim_wrapper_cfg: Union[dict, ConfigDict]) -> Tuple[dict, dict]:
    """Split a multi-wrapper config into its top-level wrapper keys
    (:data:`SHARED_WRAPPER_KEYS`) and the rest (the parts).

    Returns:
        tuple[dict, dict]: ``(shared, parts)``, shallow copies.
    """
    shared = {k: v for k, v in optim_wrapper_cfg.items()
              if k in SHARED_WRAPPER_KEYS}
    parts = {k: v for k, v in optim_wrapper_cfg.items()
             if k not in SHARED_WRAPPER_KEYS}
    return shared, parts


def apply_shared_wrapper_keys(shared: dict,
                              parts: Dict[str, dict],
                              owner: str = 'optim_wrapper'
                              ) -> Dict[str, dict]:
    """Give every part of a multi-wrapper config the top-level wrapper keys.

    ``shared['type']`` may be None / ``'OptimWrapper'`` (nothing to do) or
    ``'AmpOptimWrapper'``: then each part becomes an ``AmpOptimWrapper`` as
    :func:`enable_amp` makes it (a part's own ``loss_scale`` / ``dtype``
    win over the top-level ones, which win over ``'dynamic'``), so
    mmpretrain's ``train.py --amp`` and ours build the same wrappers.

    Args:
        shared (dict): Top-level keys, from :func:`split_shared_wrapper_keys`.
        parts (dict[str, dict]): The part configs by name.
        owner (str): Named in error messages.

    Returns:
        dict[str, dict]: New part configs (the inputs are not changed).

    Raises:
        ValueError: A top-level ``type`` other than ``OptimWrapper`` /
            ``AmpOptimWrapper``, ``loss_scale`` / ``dtype`` without
            ``type='AmpOptimWrapper'``, or a part whose own ``type`` is a
            custom wrapper that AMP cannot be applied to.
    """
    shared = dict(shared)
    wrapper_type = shared.pop('type', None)
    if wrapper_type not in _PLAIN_WRAPPERS:
        raise ValueError(
            f'{owner}: a top-level type={wrapper_type!r} would apply to '
            f'every part ({", ".join(parts)}); give each part its own '
            '`type` instead.')
    if wrapper_type != 'AmpOptimWrapper':
        if shared:
            raise ValueError(
                f'{owner}: top-level {sorted(shared)} are AmpOptimWrapper '
                "arguments; set type='AmpOptimWrapper' (or --amp) too, or "
                'move them into the parts.')
        return {name: dict(cfg) for name, cfg in parts.items()}
    out = {}
    for name, cfg in parts.items():
        cfg = dict(cfg)
        for key, value in shared.items():
            cfg.setdefault(key, value)
        _make_amp(cfg, name=f'.{name}')
        out[name] = cfg
    return out
