"""Skip-free UNETR-style reconstruction decoder (BrainMVP), 3D and 2D."""
import math
from typing import Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from mics_mm.registry import MODELS
from torch import Tensor

__all__ = ['BrainMVPConvDecoder3D', 'BrainMVPConvDecoder2D']


@MODELS.register_module()
class BrainMVPConvDecoder3D(BaseModule):
    """Up-sample the deepest backbone feature back to the input volume.

    Each of the ``log2(scale)`` steps is ConvTranspose3d(k2, s2) ->
    InstanceNorm3d -> LeakyReLU -> Conv3d(3x3x3) -> InstanceNorm3d ->
    LeakyReLU; a final 1x1x1 convolution maps to ``out_channels``. There are
    no skip connections (BrainMVP's decoder, docs/methods.md, "BrainMVP").

    Args:
        in_channels (int): Channels of the input feature.
        channels (Sequence[int]): Output channels of each up-sampling step;
            its length must equal ``log2(scale)``.
        out_channels (int): Channels of the reconstruction.
        scale (int): Total stride to undo (a power of two).
        init_cfg (dict, optional): Initialisation config.
    """

    #: Spatial dimensions of the decoded output.
    dims = 3

    def __init__(self,
                 in_channels: int = 512,
                 channels: Sequence[int] = (256, 128, 64, 32, 16),
                 out_channels: int = 4,
                 scale: int = 32,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        conv_t, conv, norm = {
            3: (nn.ConvTranspose3d, nn.Conv3d, nn.InstanceNorm3d),
            2: (nn.ConvTranspose2d, nn.Conv2d, nn.InstanceNorm2d),
        }[self.dims]
        if scale < 2 or scale & (scale - 1):
            raise ValueError(
                f'scale must be a power of two >= 2, got {scale}.')
        steps = int(round(math.log2(scale)))
        channels = tuple(channels)
        if len(channels) != steps:
            raise ValueError(
                f'scale={scale} needs {steps} up-sampling steps but '
                f'len(channels)={len(channels)}.')
        layers = []
        prev = in_channels
        for ch in channels:
            layers += [
                conv_t(prev, ch, kernel_size=2, stride=2),
                norm(ch, affine=True),
                nn.LeakyReLU(0.01, inplace=True),
                conv(ch, ch, 3, padding=1),
                norm(ch, affine=True),
                nn.LeakyReLU(0.01, inplace=True),
            ]
            prev = ch
        self.up = nn.Sequential(*layers)
        self.out_conv = conv(prev, out_channels, 1)

    def forward(self, x: Union[Tensor, Tuple[Tensor, ...]]) -> Tensor:
        """Decode the last stage feature to ``(N, out_channels, *spatial)``."""
        if isinstance(x, (tuple, list)):
            x = x[-1]
        return self.out_conv(self.up(x))


@MODELS.register_module()
class BrainMVPConvDecoder2D(BrainMVPConvDecoder3D):
    """:class:`BrainMVPConvDecoder3D` for 2D slices (ConvTranspose2d / Conv2d /
    InstanceNorm2d steps): BrainMVP's skip-free decoder behind a 2D
    mmpretrain backbone."""

    dims = 2
