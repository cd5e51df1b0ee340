"""UNet-style decode head over a backbone's feature pyramid (mmseg)."""
from typing import List, Sequence

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import nn

__all__ = ['UNetDecodeHead']


@MODELS.register_module()
class UNetDecodeHead(BaseDecodeHead):
    """Decoder of a UNet on top of any multi-scale encoder.

    BrainMVP fine-tunes its encoder with a UNETR-style decoder
    (docs/methods.md, "BrainMVP: downstream"); for 2D encoders through
    mmsegmentation this is the same idea: starting from the deepest
    feature, each step upsamples (bilinear) to the next shallower feature,
    concatenates it (skip connection) and applies two 3x3 conv-norm-act
    blocks with that level's channel count; the shallowest result goes
    through one more block to ``channels`` and the classifier. The output
    has the resolution of the shallowest input feature (1/4 for a ResNet);
    mmseg resizes the logits to the label size.

    Args:
        in_channels (Sequence[int]): Channels of the selected features,
            shallow to deep.
        in_index (Sequence[int]): Indices of the backbone outputs used.
        **kwargs: Arguments of ``BaseDecodeHead`` (``channels``,
            ``num_classes``, ``norm_cfg``, ``loss_decode``, ...).
    """

    def __init__(self, in_channels: Sequence[int], in_index: Sequence[int],
                 **kwargs) -> None:
        if len(in_channels) < 2 or len(in_channels) != len(in_index):
            raise ValueError(
                'UNetDecodeHead: needs >= 2 features with one in_index each, '
                f'got in_channels={in_channels}, in_index={in_index}')
        super().__init__(
            in_channels=list(in_channels),
            in_index=list(in_index),
            input_transform='multiple_select',
            **kwargs)
        conv = dict(
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.ups = nn.ModuleList()
        deeper = self.in_channels[-1]
        for skip in reversed(self.in_channels[:-1]):
            self.ups.append(
                nn.Sequential(
                    ConvModule(deeper + skip, skip, 3, padding=1, **conv),
                    ConvModule(skip, skip, 3, padding=1, **conv)))
            deeper = skip
        self.bottom = ConvModule(deeper, self.channels, 3, padding=1, **conv)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """Decode the pyramid to class logits."""
        feats = self._transform_inputs(inputs)
        x = feats[-1]
        for block, skip in zip(self.ups, reversed(feats[:-1])):
            x = resize(
                x,
                size=skip.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
            x = block(torch.cat([x, skip], dim=1))
        return self.cls_seg(self.bottom(x))
