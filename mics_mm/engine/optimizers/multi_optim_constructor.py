"""Several optimizer wrappers for one model (encoder + discriminator)."""
from typing import Dict

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from mics_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PartwiseOptimWrapperConstructor:
    """Build an ``OptimWrapperDict`` with one wrapper per part of a model.

    Config form::

        optim_wrapper = dict(
            constructor='PartwiseOptimWrapperConstructor',
            generator=dict(type='OptimWrapper', optimizer=dict(...)),
            discriminator=dict(type='OptimWrapper', optimizer=dict(...)))

    Every key except ``rest_key`` names a direct submodule of the model,
    whose parameters that wrapper alone updates; ``rest_key`` ('generator')
    gets every other top-level submodule that has trainable parameters
    (frozen ones such as a momentum encoder are left out). Each sub-config is built by
    mmengine's ``DefaultOptimWrapperConstructor`` (so ``paramwise_cfg``,
    ``clip_grad``, ``AmpOptimWrapper`` work as usual), and parameter names
    keep their model prefix (``backbone.``, ...) for ``custom_keys``. A key
    whose submodule is switched off (the attribute is None, e.g.
    ``model.discriminator=None``) is skipped; an unknown key is an error.

    Top-level wrapper keys (``type``, ``loss_scale``, ``dtype``) apply to
    every part: mmpretrain's packaged ``tools/train.py --amp`` writes
    ``optim_wrapper.type='AmpOptimWrapper'`` and ``loss_scale='dynamic'``
    there, and each part then becomes an ``AmpOptimWrapper`` exactly as our
    ``tools/train.py --amp`` makes it (a part's own ``loss_scale`` wins;
    :func:`mics_mm.apis.amp.apply_shared_wrapper_keys`).

    Args:
        optim_wrapper_cfg (dict): The sub-configs keyed by name.
        paramwise_cfg (dict, optional): Must be None: give it inside each
            sub-config.
        rest_key (str): Name of the wrapper that takes the remaining
            submodules. Defaults to 'generator'.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: dict = None,
                 rest_key: str = 'generator') -> None:
        if paramwise_cfg is not None:
            raise ValueError('PartwiseOptimWrapperConstructor: put '
                             '`paramwise_cfg` inside each sub-config.')
        from mics_mm.apis.amp import (apply_shared_wrapper_keys,
                                      split_shared_wrapper_keys)
        shared, optim_wrapper_cfg = split_shared_wrapper_keys(
            optim_wrapper_cfg)
        if shared:
            optim_wrapper_cfg = apply_shared_wrapper_keys(
                shared, optim_wrapper_cfg,
                owner='PartwiseOptimWrapperConstructor')
            print_log(
                'PartwiseOptimWrapperConstructor: top-level '
                f'{shared} applied to every part '
                f'({", ".join(optim_wrapper_cfg)}).',
                logger='current')
        if rest_key not in optim_wrapper_cfg:
            raise KeyError(f'PartwiseOptimWrapperConstructor: needs a '
                           f'{rest_key!r} entry, got '
                           f'{sorted(optim_wrapper_cfg)}.')
        self.cfgs = optim_wrapper_cfg
        self.rest_key = rest_key

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if hasattr(model, 'module'):
            model = model.module
        children = dict(model.named_children())
        own = [n for n, _ in model.named_parameters(recurse=False)]
        if own:
            raise ValueError('PartwiseOptimWrapperConstructor: the model has '
                             f'parameters outside submodules: {own}.')
        claimed = []
        for name in self.cfgs:
            if name == self.rest_key:
                continue
            if name in children:
                claimed.append(name)
            elif getattr(model, name, False) is None:
                # The part is switched off (e.g. model.discriminator=None).
                print_log(
                    f'PartwiseOptimWrapperConstructor: model.{name} is None, '
                    f'so optim_wrapper.{name} is not built.',
                    logger='current')
            else:
                raise KeyError(
                    f'PartwiseOptimWrapperConstructor: optim_wrapper key '
                    f'{name!r} is not a submodule of '
                    f'{type(model).__name__} (has {sorted(children)}).')
        parts: Dict[str, nn.Module] = {}
        rest = nn.Module()
        for name, child in children.items():
            if name in claimed:
                part = nn.Module()
                part.add_module(name, child)
                parts[name] = part
            elif any(p.requires_grad for p in child.parameters()):
                rest.add_module(name, child)
        parts[self.rest_key] = rest
        wrappers = {}
        for name, cfg in self.cfgs.items():
            if name not in parts:
                continue
            cfg = dict(cfg)
            paramwise = cfg.pop('paramwise_cfg', None)
            wrappers[name] = DefaultOptimWrapperConstructor(
                cfg, paramwise)(parts[name])
        return OptimWrapperDict(**wrappers)
