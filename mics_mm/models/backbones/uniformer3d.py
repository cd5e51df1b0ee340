"""3D UniFormer backbone (BrainMVP pre-training / fine-tuning encoder).

A volumetric re-implementation of UniFormer (Li et al., ICLR 2022): two
stages of local convolutional relation aggregation ("CBlocks") followed by
two stages of global multi-head self-attention ("SABlocks"), laid out as in
the BrainMVP release (docs/methods.md, "BrainMVP: architecture").
"""
from contextlib import contextmanager, nullcontext
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
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

    The LayerNorms use ``eps=1e-6`` as the release's SABlocks do.

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
        self.norm1 = nn.LayerNorm(channels, eps=1e-6)
        self.attn = _Attention(channels, num_heads)
        self.drop_path = _DropPath(drop_path)
        self.norm2 = nn.LayerNorm(channels, eps=1e-6)
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


@contextmanager
def _bn_stats_kept(module: nn.Module) -> Iterator[None]:
    """Restore the BatchNorm running statistics of ``module`` on exit.

    Used around the re-computation of a checkpointed block, so that the
    extra forward pass does not update the running mean / variance a second
    time: with and without activation checkpointing they stay identical.
    """
    saved = [(m, m.running_mean.clone(), m.running_var.clone(),
              m.num_batches_tracked.clone()) for m in module.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats and m.running_mean is not None]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, mean, var, count in saved:
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)


def _checkpoint_contexts(block: nn.Module) -> Any:
    """``context_fn`` for ``torch.utils.checkpoint``: nothing around the
    first forward, BatchNorm statistics kept around the re-computation."""

    def contexts() -> Tuple[Any, Any]:
        return nullcontext(), _bn_stats_kept(block)

    return contexts


@MODELS.register_module()
class UniFormer3D(BaseModule):
    """Volumetric UniFormer backbone, by default as in the BrainMVP release.

    Stages 1-2 use local convolutional blocks (BatchNorm, depth-wise 5^3
    "attention"), stages 3-4 global self-attention blocks (LayerNorm, qkv
    with bias, ``width // head_dim`` heads). Every stage starts with a
    non-overlapping patch embedding (Conv3d with kernel = stride, then
    LayerNorm); a BatchNorm3d follows the last stage (``final_norm``).

    Arch ``'s'`` is the release's UniFormer-S: depths 3, 4, 8, 3, widths
    64, 128, 320, 512, MLP ratio 4, head dim 64 (1, 2, 5, 8 heads; only
    stages 3-4 attend), and ``patch_strides=(2, 2, 2, 2)``: stage strides
    2, 4, 8 and 16, so a 96^3 patch ends as a 6^3 map. With
    ``in_channels=1`` (the release's pre-training input) it has 22,038,464
    parameters, the release's "22.04 M": patch embeddings (conv + LayerNorm)
    704 + 65,920 + 328,640 + 1,312,256, CBlocks 3 x 51,520 and
    4 x 184,960, SABlocks 8 x 1,241,920 and 3 x 3,166,720, and the final
    BatchNorm3d 1,024. Each further input channel adds 512 (4 channels, as
    the release's downstream stem: 22,040,000). BatchNorm running
    statistics are buffers and not counted.

    The stride-4 stem used before (a kernel-4 stride-4 first embedding:
    stage strides 4, 8, 16, 32, a 3^3 map at 96^3, 8x fewer tokens per
    stage) is ``patch_strides=(4, 2, 2, 2)``; ``final_norm=False`` drops the
    final norm. Arch ``'tiny'`` (depths 1, 1, 1, 1; widths 16, 32, 64, 128),
    meant for tests and demos on CPU, defaults to that stride-4 stem.

    The release permutes its (N, C, H, W, D) input to (N, C, D, H, W) before
    the stem and back in the decoder; with isotropic kernels this is only an
    axis convention, and here the input is taken as (N, C, D, H, W). The
    release also returns the (permuted) input together with the four stage
    outputs; here ``forward`` returns the stages in ``out_indices`` only.
    :meth:`init_weights` draws truncated-normal weights (std 0.02) for all
    convolutions and linear layers; the release initialises convolutions
    with Kaiming-normal (fan-out) and keeps PyTorch's default elsewhere.

    Args:
        arch (str | dict): ``'s'``, ``'tiny'`` or a dict with keys
            ``depths`` and ``widths`` (four entries each) and optionally
            ``patch_strides``. Defaults to ``'s'``.
        in_channels (int): Input channels (number of MRI modalities stacked
            as channels). Defaults to 4.
        out_indices (Sequence[int]): Stages (0-3) whose outputs are
            returned. Defaults to ``(3, )``.
        patch_strides (Sequence[int], optional): Kernel size and stride of
            the patch embedding of each of the four stages. None uses the
            arch's: ``(2, 2, 2, 2)`` (the release) for ``'s'`` and custom
            dicts without the key, ``(4, 2, 2, 2)`` for ``'tiny'``.
            Defaults to None.
        final_norm (bool): Whether a BatchNorm3d follows the last stage (the
            release's ``norm``). Defaults to True.
        drop_path_rate (float): Maximum stochastic depth rate, increasing
            linearly over all blocks. Defaults to 0.0 (as the release).
        head_dim (int): Channels per attention head in stages 3-4.
            Defaults to 64.
        mlp_ratio (float): Hidden width ratio of the MLPs. Defaults to 4.0.
        with_cp (bool | Sequence[bool]): Activation checkpointing
            (``torch.utils.checkpoint``): the activations inside each block
            are recomputed in the backward pass instead of being stored. One
            bool for all stages or one per stage. The results, gradients and
            BatchNorm running statistics are the same as without it.
            Defaults to False.
        init_cfg (dict | list, optional): Initialisation config. Defaults to
            None.
    """

    arch_zoo: Dict[str, Dict[str, Tuple[int, ...]]] = {
        's':
        dict(
            depths=(3, 4, 8, 3),
            widths=(64, 128, 320, 512),
            patch_strides=(2, 2, 2, 2)),
        'tiny':
        dict(
            depths=(1, 1, 1, 1),
            widths=(16, 32, 64, 128),
            patch_strides=(4, 2, 2, 2)),
    }

    #: Patch strides of custom archs that do not name theirs (the release).
    default_patch_strides: Tuple[int, ...] = (2, 2, 2, 2)

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 in_channels: int = 4,
                 out_indices: Sequence[int] = (3, ),
                 patch_strides: Optional[Sequence[int]] = None,
                 final_norm: bool = True,
                 drop_path_rate: float = 0.0,
                 head_dim: int = 64,
                 mlp_ratio: float = 4.0,
                 with_cp: Union[bool, Sequence[bool]] = False,
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
        if patch_strides is None:
            patch_strides = arch.get('patch_strides',
                                     self.default_patch_strides)
        patch_strides = tuple(patch_strides)
        if len(patch_strides) != 4 or not all(
                isinstance(s, int) and s >= 1 for s in patch_strides):
            raise ValueError('patch_strides must be 4 positive ints, got '
                             f'{patch_strides}.')
        if isinstance(with_cp, bool):
            with_cp = (with_cp, ) * 4
        with_cp = tuple(bool(c) for c in with_cp)
        if len(with_cp) != 4:
            raise ValueError('with_cp must be a bool or 4 bools (one per '
                             f'stage), got {with_cp}.')
        out_indices = tuple(out_indices)
        if not out_indices:
            raise ValueError('out_indices must not be empty.')
        for idx in out_indices:
            if not 0 <= idx < 4:
                raise ValueError(f'out_indices must be in 0..3, got {idx}.')
        self.depths, self.widths = depths, widths
        self.patch_strides = patch_strides
        self.out_indices = out_indices
        self.with_cp = with_cp

        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.patch_embeds = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev, k = in_channels, 0
        for i, (depth, width) in enumerate(zip(depths, widths)):
            self.patch_embeds.append(
                _PatchEmbed3D(prev, width, patch_strides[i]))
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
        self.final_norm = final_norm
        self.norm = nn.BatchNorm3d(widths[-1]) if final_norm else nn.Identity()

    @property
    def strides(self) -> Tuple[int, ...]:
        """Total stride of each stage's output."""
        out, total = [], 1
        for s in self.patch_strides:
            total *= s
            out.append(total)
        return tuple(out)

    def init_weights(self) -> None:
        """Truncated-normal weights, zero biases, unit LayerNorm/BN.

        An ``init_cfg`` loading weights (a type ending in ``Pretrained``:
        mmengine's ``Pretrained`` or ``InflatedPretrained``) replaces this.
        """
        if (isinstance(self.init_cfg, dict) and str(
                self.init_cfg.get('type', '')).endswith('Pretrained')):
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

    def _run_stage(self, i: int, x: Tensor) -> Tensor:
        """Run the blocks of stage ``i``, checkpointed if asked to."""
        if not (self.with_cp[i] and x.requires_grad
                and torch.is_grad_enabled()):
            return self.stages[i](x)
        for block in self.stages[i]:
            x = cp.checkpoint(
                block,
                x,
                use_reentrant=False,
                context_fn=_checkpoint_contexts(block))
        return x

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Encode a volume.

        Args:
            x (Tensor): Input of shape (N, C, D, H, W).

        Returns:
            tuple[Tensor]: Stage outputs at ``out_indices``, each of shape
            (N, C_i, D/s_i, H/s_i, W/s_i) with s_i in :attr:`strides`
            ((2, 4, 8, 16) for the release strides). The last stage's output
            is taken after the final norm. Stages deeper than
            ``max(out_indices)`` are skipped.
        """
        outs = []
        for i, embed in enumerate(self.patch_embeds):
            x = self._run_stage(i, embed(x))
            if i == len(self.stages) - 1:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append(x)
            if i == max(self.out_indices):
                break  # deeper stages are not needed
        return tuple(outs)

