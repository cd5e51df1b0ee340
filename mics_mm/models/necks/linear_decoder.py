"""Pixel-shuffle decoder with any number of output channels (2D)."""
from typing import Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from mics_mm.registry import MODELS


@MODELS.register_module()
class BrainMVPLinearDecoder2D(BaseModule):
    """1x1 conv to ``out_channels * stride**2`` channels, then pixel shuffle.

    SimMIM's linear decoder, generalised from 3 output channels to the
    number of MRI modalities (BrainMVP on 2D slices reconstructs every
    input channel from the deepest feature, without skips).

    Args:
        in_channels (int): Channels of the deepest feature.
        out_channels (int): Channels to reconstruct.
        encoder_stride (int): Total stride of the encoder.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 encoder_stride: int,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.decoder = nn.Sequential(
            nn.Conv2d(in_channels, out_channels * encoder_stride**2, 1),
            nn.PixelShuffle(encoder_stride))

    def forward(self, x: Union[torch.Tensor, Tuple[torch.Tensor,
                                                   ...]]) -> torch.Tensor:
        if isinstance(x, (tuple, list)):
            x = x[-1]
        return self.decoder(x)
