"""Load pre-trained weights whose input layer saw fewer channels."""
from typing import Dict, List

import torch
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.runner.checkpoint import load_state_dict

from mics_mm.registry import WEIGHT_INITIALIZERS

from ...utils.checkpoint_io import read_checkpoint

__all__ = ['InflatedPretrained', 'inflate_input_channels']


def inflate_input_channels(weights: Dict[str, torch.Tensor],
                           own: Dict[str, torch.Tensor]) -> List[str]:
    """Repeat the input-channel axis of 1-channel kernels in place.

    A kernel ``(out, 1, *k)`` of ``weights`` whose counterpart in ``own`` is
    ``(out, C, *k)`` becomes ``w.repeat(1, C, ...) / C``: C identical input
    channels then give the pre-trained response, and C different modalities
    their mean's response (I3D-style inflation over modalities).

    Args:
        weights (dict[str, Tensor]): Pre-trained tensors (edited in place).
        own (dict[str, Tensor]): The receiving module's state dict.

    Returns:
        list[str]: The inflated keys.
    """
    inflated = []
    for key, value in list(weights.items()):
        target = own.get(key)
        if (target is None or value.dim() < 3 or value.shape == target.shape
                or value.shape[1] != 1 or value.shape[0] != target.shape[0]
                or value.shape[2:] != target.shape[2:]):
            continue
        channels = target.shape[1]
        weights[key] = value.repeat(1, channels,
                                    *([1] * (value.dim() - 2))) / channels
        inflated.append(key)
    return inflated


@WEIGHT_INITIALIZERS.register_module()
class InflatedPretrained(PretrainedInit):
    """``init_cfg=dict(type='InflatedPretrained', checkpoint=..., prefix=
    'backbone.')``: mmengine's ``Pretrained`` initialisation, for an encoder
    pre-trained on one modality per view (BrainMVP) and fine-tuned on
    several modalities as input channels: every 1-channel input kernel is
    inflated to the module's channel count (:func:`inflate_input_channels`;
    docs/methods.md, "BrainMVP: downstream"). The checkpoint is read with
    ``weights_only=True`` (a bad file is named); other keys load as with
    ``Pretrained`` (non-strict, mismatches logged).

    In an mmseg config (``default_scope='mmseg'``) give
    ``_scope_='mics_mm'`` in the dict.

    Args:
        checkpoint (str): Checkpoint file.
        prefix (str, optional): Key prefix of the sub-module to load, e.g.
            ``'backbone.'``. Defaults to None (the whole state dict).
        map_location (str): Defaults to 'cpu'.
    """

    def __call__(self, module) -> None:
        # mmengine applies its own ``Pretrained`` after the children's
        # initialisation; a subclass is not recognised there, so keep that
        # order here: initialise the children first (they are then marked
        # initialised and not re-run), load the checkpoint last.
        for child in module.children():
            if hasattr(child, 'init_weights') and not getattr(
                    child, 'is_init', False):
                child.init_weights()
        if getattr(module, 'zero_init_residual', False):
            # mmpretrain's ResNet zeroes its residual norms after loading
            # unless the type is exactly 'Pretrained'; as there, a loaded
            # checkpoint wins.
            module.zero_init_residual = False
        ckpt = read_checkpoint(self.checkpoint, map_location=self.map_location)
        state = ckpt.get('state_dict', ckpt)
        if self.prefix:
            state = {
                k[len(self.prefix):]: v
                for k, v in state.items() if k.startswith(self.prefix)
            }
            if not state:
                raise ValueError(
                    f'InflatedPretrained: {self.checkpoint!r} has no weights '
                    f'under {self.prefix!r}.')
        inflated = inflate_input_channels(state, module.state_dict())
        print_log(
            f'load {self.prefix or "model"} from {self.checkpoint}; '
            f'inflated input kernels: {inflated or "none"}',
            logger='current')
        load_state_dict(module, state, strict=False, logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'InflatedPretrained: load from {self.checkpoint}'

