"""ResNet that can take a SimMIM-style masked input (docs/methods.md, "MICS decision 6")."""
from typing import Tuple, Union

import torch
from torch import nn

from mmpretrain.models.backbones import ResNet
from mics_mm.registry import MODELS

from ..utils.masking import random_patch_mask, upsample_mask


@MODELS.register_module()
class MaskedResNet(ResNet):
    """mmpretrain's ResNet with an optional masked-input forward.

    CNNs have no tokens to drop, so MICS' reconstructive task uses SimMIM's
    recipe for them (docs/methods.md, "MICS decision 6"): square patches of the input
    image are replaced by a learnable per-channel mask colour, the masked
    image goes through the unchanged ResNet, and a light decoder
    (``SimMIMLinearDecoder``) predicts the pixels. The weights are those of
    a plain ``ResNet`` plus ``mask_token`` (3 numbers), so an mmpretrain
    ``ResNet`` loads a pre-trained checkpoint with no missing key.

    The call convention matches mmpretrain's ``MAEViT``: ``forward(x)`` or
    ``forward(x, mask=None)`` is the ordinary ResNet forward (tuple of stage
    outputs); ``forward(x, mask=True)`` draws a random mask and returns
    ``(last_stage_feature, mask, None)`` with ``mask`` of shape
    ``(N, H / mask_patch_size, W / mask_patch_size)``, 1 = masked; a given
    0/1 mask tensor of that shape is used instead of a random one.

    Args:
        mask_patch_size (int): Side of a masked square in pixels. Defaults
            to 32 (SimMIM's value at 224 px).
        mask_ratio (float): Fraction of patches masked. Defaults to 0.75
            (MICS' MAE ratio).
        in_channels (int): Input channels. Defaults to 3.
        **kwargs: Arguments of mmpretrain's ``ResNet`` (``depth``, ...).
    """

    def __init__(self,
                 mask_patch_size: int = 32,
                 mask_ratio: float = 0.75,
                 in_channels: int = 3,
                 **kwargs) -> None:
        super().__init__(in_channels=in_channels, **kwargs)
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f'MaskedResNet: mask_ratio must be in '
                             f'[0, 1), got {mask_ratio}.')
        self.mask_patch_size = mask_patch_size
        self.mask_ratio = mask_ratio
        self.mask_token = nn.Parameter(torch.zeros(1, in_channels, 1, 1))

    def init_weights(self) -> None:
        super().init_weights()
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(
        self,
        x: torch.Tensor,
        mask: Union[None, bool, torch.Tensor] = None
    ) -> Union[Tuple[torch.Tensor, ...], Tuple[torch.Tensor, torch.Tensor,
                                                 None]]:
        if mask is None or mask is False:
            return super().forward(x)
        n, _, h, w = x.shape
        p = self.mask_patch_size
        if h % p or w % p:
            raise ValueError(
                f'MaskedResNet: input {h}x{w} is not divisible by '
                f'mask_patch_size={p}; change the crop size or the mask size.')
        if mask is True:
            mask = random_patch_mask(n, (h // p, w // p), self.mask_ratio,
                                     x.device)
        pixel_mask = upsample_mask(mask, p).unsqueeze(1).to(x.dtype)
        x = x * (1 - pixel_mask) + self.mask_token.to(x.dtype) * pixel_mask
        return super().forward(x)[-1], mask, None
