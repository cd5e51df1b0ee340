"""Linear skip-free reconstruction decoder of the BrainMVP release (3D)."""
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from mics_mm.registry import MODELS
from torch import Tensor

__all__ = ['BrainMVPLinearDecoder3D']


@MODELS.register_module()
class BrainMVPLinearDecoder3D(BaseModule):
    """Transposed convolutions from the deepest feature back to the volume.

    The BrainMVP release decodes the deepest UniFormer feature with four
    ConvTranspose3d layers (kernel 2, stride 2, no bias; 512 -> 320 -> 128
    -> 64 -> 64 channels) and a 1x1x1 convolution (with bias) to the
    reconstructed channels, with no norm, activation or skip connection in
    between: the decoder is linear, so the encoder has to carry the
    reconstruction (docs/methods.md, "BrainMVP: architecture"). These are
    the ``transp_conv`` layers of the release's four MONAI ``UnetrUpBlock``
    and its ``UnetOutBlock``; the rest of those blocks is built there but
    never used. Each step doubles the resolution, so ``len(channels)`` steps
    undo a stride of ``2 ** len(channels)`` (16 for the release's
    UniFormer-S: a 6^3 map back to 96^3).

    With the defaults (one output channel, as the release) it has 1,736,769
    parameters, the release's "1.74 M": 512 x 320 x 8 + 320 x 128 x 8 +
    128 x 64 x 8 + 64 x 64 x 8 = 1,736,704 transposed-convolution weights
    and 64 + 1 in the output convolution. Each further output channel adds
    65.

    The release permutes its feature from (D, H, W) back to its (H, W, D)
    input order before decoding; here the input order (N, C, D, H, W) is
    kept throughout, which is the same with isotropic kernels.

    Args:
        in_channels (int): Channels of the deepest backbone feature.
            Defaults to 512.
        channels (Sequence[int]): Output channels of each ConvTranspose3d
            step. Defaults to ``(320, 128, 64, 64)`` (the release).
        out_channels (int): Channels of the reconstruction. Defaults to 1
            (the release reconstructs one modality).
        bias (bool): Whether the transposed convolutions have a bias.
            Defaults to False (the release).
        init_cfg (dict | list, optional): Initialisation config. Defaults to
            None.
    """

    def __init__(self,
                 in_channels: int = 512,
                 channels: Sequence[int] = (320, 128, 64, 64),
                 out_channels: int = 1,
                 bias: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        channels = tuple(channels)
        if not channels:
            raise ValueError('channels must name at least one step.')
        layers = []
        prev = in_channels
        for ch in channels:
            layers.append(
                nn.ConvTranspose3d(
                    prev, ch, kernel_size=2, stride=2, bias=bias))
            prev = ch
        self.up = nn.Sequential(*layers)
        self.out_conv = nn.Conv3d(prev, out_channels, 1)
        self.scale = 2**len(channels)

    def forward(self, x: Union[Tensor, Tuple[Tensor, ...]]) -> Tensor:
        """Decode the deepest feature.

        Args:
            x (Tensor | tuple[Tensor]): Feature (N, C, d, h, w), or the
                backbone's tuple of features, of which the last is decoded.

        Returns:
            Tensor: Reconstruction of shape
            (N, out_channels, d * scale, h * scale, w * scale).
        """
        if isinstance(x, (tuple, list)):
            x = x[-1]
        return self.out_conv(self.up(x))
