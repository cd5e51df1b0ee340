"""UNETR-style 3D decoder with skip connections (BrainMVP downstream).

The decoder of the BrainMVP release's downstream segmentation network
(``UniSegDecoder`` of its ``UniUnet``; docs/methods.md,
"BrainMVP: downstream"): starting from the deepest encoder stage, each step
upsamples with a transposed convolution, concatenates the encoder output
one stage up (the skip) and runs a residual 3^3 convolution block (MONAI's
``UnetrUpBlock``, instance norm). The last step goes back to the input
resolution with a skip made from the input itself by a 3^3 convolution and
a LayerNorm (the release's ``proj1``).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mics_mm.registry import MODELS

__all__ = ['UNETRDecoder3D']


class _InputEmbed3D(nn.Module):
    """3^3 convolution (stride 1) and a channel LayerNorm: the input skip.

    Args:
        in_channels (int): Channels of the network input.
        out_channels (int): Channels of the skip.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(
            in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Embed (N, C, D, H, W) into (N, C', D, H, W)."""
        x = self.proj(x)
        x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x.contiguous()


@MODELS.register_module()
class UNETRDecoder3D(BaseModule):
    """UNETR-style decoder over the stage outputs of a 3D encoder.

    With encoder outputs ``x_0 .. x_{L-1}`` (channels ``c_i``, total
    strides ``s_i``, shallow to deep), step ``j`` (from the deepest) is a
    ``UnetrUpBlock`` that upsamples by ``s_i / s_{i-1}`` to ``c_{i-1}``
    channels, concatenates ``x_{i-1}`` and runs a residual block; the last
    step upsamples by ``s_0`` to the input resolution and concatenates the
    input skip (``embed_channels`` channels, ``c_0`` by default). For the
    release's UniFormer-S (channels 64, 128, 320, 512; strides 2, 4, 8, 16)
    the outputs have 320, 128, 64 and 64 channels at strides 8, 4, 2 and 1,
    exactly the release's ``dec5 .. dec2``.

    ``in_channels`` and ``strides`` are what the encoder gives;
    ``BrainMVPSegmentor3D`` reads them off its backbone when the config
    leaves them out.

    Args:
        in_channels (Sequence[int]): Channels of the encoder outputs,
            shallow to deep.
        strides (Sequence[int]): Total stride of each encoder output,
            increasing, each a multiple of the previous one.
        input_channels (int): Channels of the network input. Defaults to 4.
        embed_channels (int, optional): Channels of the input skip and of
            the last output. Defaults to None (``in_channels[0]``).
        kernel_size (int): Convolution kernel of the blocks. Defaults to 3.
        norm_name (str | tuple): MONAI norm of the blocks. Defaults to
            ``'instance'``.
        res_block (bool): Residual blocks. Defaults to True.
        init_cfg (dict | list, optional): Initialisation config. Defaults to
            None (the release's: Kaiming-normal ``fan_out`` convolutions,
            zero biases).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 strides: Sequence[int],
                 input_channels: int = 4,
                 embed_channels: Optional[int] = None,
                 kernel_size: int = 3,
                 norm_name: Union[str, tuple] = 'instance',
                 res_block: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from monai.networks.blocks import UnetrUpBlock
        in_channels = tuple(int(c) for c in in_channels)
        strides = tuple(int(s) for s in strides)
        if not in_channels or len(in_channels) != len(strides):
            raise ValueError(
                f'UNETRDecoder3D: in_channels {in_channels} and strides '
                f'{strides} must be non-empty and of equal length.')
        factors = []
        prev = 1
        for s in strides:
            if s <= prev or s % prev:
                raise ValueError(
                    f'UNETRDecoder3D: strides {strides} must increase, each '
                    'a multiple of the previous one (and the first > 1).')
            factors.append(s // prev)
            prev = s
        embed = int(embed_channels or in_channels[0])
        self.in_channels, self.strides = in_channels, strides
        self.input_channels = int(input_channels)
        self.embed_channels = embed

        # out channels of each step, deep to shallow: c_{L-2} .. c_0, embed
        outs = list(in_channels[:-1][::-1]) + [embed]
        self.blocks = nn.ModuleList()
        prev_channels = in_channels[-1]
        for step, out_ch in enumerate(outs):
            level = len(strides) - 1 - step  # upsample from stride s_level
            self.blocks.append(
                UnetrUpBlock(
                    spatial_dims=3,
                    in_channels=prev_channels,
                    out_channels=out_ch,
                    kernel_size=kernel_size,
                    upsample_kernel_size=factors[level],
                    norm_name=norm_name,
                    res_block=res_block))
            prev_channels = out_ch
        self.input_embed = _InputEmbed3D(self.input_channels, embed)

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of the outputs, coarse to fine."""
        return tuple(self.in_channels[:-1][::-1]) + (self.embed_channels, )

    @property
    def out_strides(self) -> Tuple[int, ...]:
        """Total stride of the outputs, coarse to fine (the last is 1)."""
        return tuple(self.strides[:-1][::-1]) + (1, )

    def init_weights(self) -> None:
        """Kaiming-normal (``fan_out``) 3D convolutions, zero biases."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for m in self.modules():
            if type(m) is nn.Conv3d:  # not the transposed ones (release)
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, feats: Sequence[Tensor],
                inputs: Tensor) -> Tuple[Tensor, ...]:
        """Decode.

        Args:
            feats (Sequence[Tensor]): Encoder outputs, shallow to deep,
                ``(N, c_i, *spatial / s_i)``.
            inputs (Tensor): The network input ``(N, input_channels,
                *spatial)``.

        Returns:
            tuple[Tensor]: One output per step, coarse to fine, with
            :attr:`out_channels` channels at :attr:`out_strides`; the last
            at the input resolution.
        """
        if len(feats) != len(self.in_channels):
            raise ValueError(
                f'UNETRDecoder3D: got {len(feats)} encoder outputs for '
                f'in_channels {self.in_channels}; set the backbone '
                f'out_indices to all {len(self.in_channels)} stages.')
        for f, c, s in zip(feats, self.in_channels, self.strides):
            want = tuple(d // s for d in inputs.shape[2:])
            if f.shape[1] != c or tuple(f.shape[2:]) != want:
                raise ValueError(
                    f'UNETRDecoder3D: an encoder output has shape '
                    f'{tuple(f.shape[1:])}, expected ({c}, *{want}) for '
                    f'stride {s} of a {tuple(inputs.shape[2:])} input (the '
                    f'input size must be a multiple of {self.strides[-1]}).')
        skips = list(feats[:-1][::-1]) + [self.input_embed(inputs)]
        x, outs = feats[-1], []
        for block, skip in zip(self.blocks, skips):
            x = block(x, skip)
            outs.append(x)
        return tuple(outs)
