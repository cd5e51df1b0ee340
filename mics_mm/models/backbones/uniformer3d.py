"""3D UniFormer backbone (BrainMVP pre-training / fine-tuning encoder).

A volumetric re-implementation of UniFormer (Li et al., ICLR 2022): two
stages of local convolutional relation aggregation ("CBlocks") followed by
two stages of global multi-head self-attention ("SABlocks").
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mics_mm.registry import MODELS
from torch import Tensor

__all__ = ['UniFormer3D']


class _DropPath(nn.Module):
    """Stochastic depth: randomly drop a whole residual branch per sample.

    Args:
        drop_prob (float): Probability of dropping the branch.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        """Apply drop path in training mode; identity otherwise."""
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
        mask = x.new_empty(shape).bernoulli_(keep)
        return x * mask / keep


class _PatchEmbed3D(nn.Module):
    """Strided non-overlapping 3D convolution followed by a LayerNorm.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Kernel size and stride of the convolution.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv3d(
            in_channels, out_channels, kernel_size=stride, stride=stride)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Embed (N, C, D, H, W) into (N, C', D/s, H/s, W/s)."""
        x = self.proj(x)
        x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x.contiguous()


class _ConvMlp(nn.Module):
    """Two 1x1x1 convolutions with a GELU in between."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv3d(channels, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv3d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP channel-wise."""
        return self.fc2(self.act(self.fc1(x)))


class _CBlock(nn.Module):
    """Local UniFormer block (conditional position encoding + local MHRA).

    Args:
        channels (int): Feature channels.
        mlp_ratio (float): Hidden width ratio of the MLP.
        drop_path (float): Stochastic depth rate of this block.
    """

    def __init__(self, channels: int, mlp_ratio: float,
                 drop_path: float) -> None:
        super().__init__()
        self.pos_embed = nn.Conv3d(
            channels, channels, 3, padding=1, groups=channels)
        self.norm1 = nn.BatchNorm3d(channels)
        self.conv1 = nn.Conv3d(channels, channels, 1)
        self.attn = nn.Conv3d(
            channels, channels, 5, padding=2, groups=channels)
        self.conv2 = nn.Conv3d(channels, channels, 1)
        self.drop_path = _DropPath(drop_path)
        self.norm2 = nn.BatchNorm3d(channels)
        self.mlp = _ConvMlp(channels, int(channels * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        """Run the block on (N, C, D, H, W)."""
        x = x + self.pos_embed(x)
        x = x + self.drop_path(
            self.conv2(self.attn(self.conv1(self.norm1(x)))))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x


class _Attention(nn.Module):
    """Multi-head self-attention over a token sequence (N, L, C)."""

    def __init__(self, channels: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (channels // num_heads)**-0.5
        self.qkv = nn.Linear(channels, channels * 3)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        """Attend globally across all tokens."""
        n, length, c = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.num_heads,
                                  c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(n, length, c)
        return self.proj(out)


class _SABlock(nn.Module):
    """Global UniFormer block (position encoding + global self-attention).

    Args:
        channels (int): Feature channels.
        num_heads (int): Number of attention heads.
        mlp_ratio (float): Hidden width ratio of the MLP.
        drop_path (float): Stochastic depth rate of this block.
    """

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float,
                 drop_path: float) -> None:
        super().__init__()
        self.pos_embed = nn.Conv3d(
            channels, channels, 3, padding=1, groups=channels)
        self.norm1 = nn.LayerNorm(channels)
        self.attn = _Attention(channels, num_heads)
        self.drop_path = _DropPath(drop_path)
        self.norm2 = nn.LayerNorm(channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.GELU(),
            nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        """Run the block on (N, C, D, H, W)."""
        x = x + self.pos_embed(x)
        n, c, d, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        tokens = tokens + self.drop_path(self.attn(self.norm1(tokens)))
        tokens = tokens + self.drop_path(self.mlp(self.norm2(tokens)))
        return tokens.transpose(1, 2).reshape(n, c, d, h, w)


@MODELS.register_module()
class UniFormer3D(BaseModule):
    """Volumetric UniFormer backbone.

    Stages 1-2 use local convolutional blocks, stages 3-4 global
    self-attention blocks. The stem embeds with stride 4 and each later
    stage halves the resolution, so stage strides are 4, 8, 16 and 32.

    Args:
        arch (str | dict): ``'s'`` (depths 3, 4, 8, 3; widths 64, 128, 320,
            512), ``'tiny'`` or a dict with keys ``depths`` and ``widths``
            (four entries each).
        in_channels (int): Input channels (number of MRI modalities).
        out_indices (Sequence[int]): Stages (0-3) whose outputs are returned.
        drop_path_rate (float): Maximum stochastic depth rate, increasing
            linearly over all blocks.
        head_dim (int): Channels per attention head in stages 3-4.
        mlp_ratio (float): Hidden width ratio of the MLPs.
        init_cfg (dict | list, optional): Initialisation config.
    """

    arch_zoo: Dict[str, Dict[str, Tuple[int, ...]]] = {
        's': dict(depths=(3, 4, 8, 3), widths=(64, 128, 320, 512)),
        'tiny': dict(depths=(1, 1, 1, 1), widths=(16, 32, 64, 128)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 in_channels: int = 4,
                 out_indices: Sequence[int] = (3, ),
                 drop_path_rate: float = 0.0,
                 head_dim: int = 64,
                 mlp_ratio: float = 4.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_zoo:
                raise ValueError(f'Unknown arch {arch!r}; valid archs are '
                                 f'{sorted(self.arch_zoo)}.')
            arch = self.arch_zoo[arch]
        elif not isinstance(arch, dict) or not {'depths', 'widths'} <= set(
                arch):
            raise ValueError('A custom arch must be a dict with keys '
                             "'depths' and 'widths'.")
        depths, widths = tuple(arch['depths']), tuple(arch['widths'])
        if len(depths) != 4 or len(widths) != 4:
            raise ValueError('depths and widths must have 4 entries each.')
        out_indices = tuple(out_indices)
        if not out_indices:
            raise ValueError('out_indices must not be empty.')
        for idx in out_indices:
            if not 0 <= idx < 4:
                raise ValueError(f'out_indices must be in 0..3, got {idx}.')
        self.depths, self.widths = depths, widths
        self.out_indices = out_indices

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.patch_embeds = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev, k = in_channels, 0
        for i, (depth, width) in enumerate(zip(depths, widths)):
            self.patch_embeds.append(
                _PatchEmbed3D(prev, width, 4 if i == 0 else 2))
            if i < 2:
                blocks = [
                    _CBlock(width, mlp_ratio, dpr[k + j])
                    for j in range(depth)
                ]
            else:
                heads = max(1, width // head_dim)
                blocks = [
                    _SABlock(width, heads, mlp_ratio, dpr[k + j])
                    for j in range(depth)
                ]
            self.stages.append(nn.Sequential(*blocks))
            prev, k = width, k + depth

    def init_weights(self) -> None:
        """Truncated-normal weights, zero biases, unit LayerNorm/BN."""
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv3d)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, nn.BatchNorm3d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Encode a volume.

        Args:
            x (Tensor): Input of shape (N, C, D, H, W).

        Returns:
            tuple[Tensor]: Stage outputs at ``out_indices``, each of shape
            (N, C_i, D/s_i, H/s_i, W/s_i) with s_i in (4, 8, 16, 32).
            Stages deeper than ``max(out_indices)`` are skipped.
        """
        outs = []
        for i, (embed, stage) in enumerate(zip(self.patch_embeds,
                                               self.stages)):
            x = stage(embed(x))
            if i in self.out_indices:
                outs.append(x)
            if i == max(self.out_indices):
                break  # deeper stages are not needed
        return tuple(outs)
