"""Transformer discriminator with L2-distance attention (MICS aligned loss)."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mics_mm.registry import MODELS


class SpectralScaledLinear(nn.Linear):
    r"""Linear layer with spectral normalisation rescaled to its init norm.

    The weight used is :math:`W \sigma_0 / \sigma(W)` where :math:`\sigma(W)`
    is estimated by one power iteration per training step and
    :math:`\sigma_0` is the spectral norm at initialisation ("improved
    spectral normalisation" of ViTGAN), keeping the layer's Lipschitz
    constant fixed without shrinking it to 1. Power-iteration vectors are
    cloned before use, so several forwards before one backward are safe.
    """

    def __init__(self, in_features: int, out_features: int,
                 bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.register_buffer('u', F.normalize(torch.randn(out_features), dim=0))
        self.register_buffer('sigma0', torch.ones(()))

    def reset_sigma0(self) -> None:
        """Set :math:`\\sigma_0` to the current exact spectral norm."""
        with torch.no_grad():
            self.sigma0.fill_(torch.linalg.matrix_norm(self.weight, ord=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        with torch.no_grad():
            v = F.normalize(w.t() @ self.u, dim=0)
            u = F.normalize(w @ v, dim=0)
            if self.training:
                self.u.copy_(u)
            u, v = u.clone(), v.clone()
        sigma = torch.dot(u, w @ v)
        return F.linear(x, w * (self.sigma0 / sigma), self.bias)


class L2Attention(nn.Module):
    r"""Multi-head self-attention with L2-distance logits and tied Q = K.

    :math:`A_{ij} = \mathrm{softmax}_j(-\lVert q_i - k_j \rVert^2 /
    \sqrt{d})` with :math:`W_q = W_k`, which makes self-attention Lipschitz
    (Kim et al., 2021), as in MICS' released discriminator.
    """

    def __init__(self, dims: int, num_heads: int) -> None:
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'L2Attention: dims={dims} is not divisible by '
                             f'num_heads={num_heads}.')
        self.num_heads = num_heads
        self.head_dims = dims // num_heads
        self.qk = SpectralScaledLinear(dims, dims, bias=False)
        self.v = SpectralScaledLinear(dims, dims, bias=False)
        self.proj = SpectralScaledLinear(dims, dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dims = x.shape
        shape = (n, length, self.num_heads, self.head_dims)
        q = self.qk(x).view(shape).transpose(1, 2)  # (N, h, L, d)
        v = self.v(x).view(shape).transpose(1, 2)
        sq = q.pow(2).sum(-1)
        dist = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * q @ q.transpose(-2, -1)
        attn = torch.softmax(-dist / math.sqrt(self.head_dims), dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(n, length, dims)
        return self.proj(out)


class L2AttentionBlock(nn.Module):
    """Pre-norm transformer block with :class:`L2Attention`."""

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dims * mlp_ratio)
        self.norm1 = nn.LayerNorm(dims)
        self.attn = L2Attention(dims, num_heads)
        self.norm2 = nn.LayerNorm(dims)
        self.mlp = nn.Sequential(
            SpectralScaledLinear(dims, hidden), nn.GELU(),
            SpectralScaledLinear(hidden, dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


@MODELS.register_module()
class MICSL2AttnDiscriminator(BaseModule):
    """Modality discriminator over an encoder's tokens.

    The released MICS discriminator is a 6-block transformer with
    L2-distance attention and spectral scaling (docs/methods.md, "MICS
    decision 13"). This one receives a ``(N, L, C)`` token sequence (ViT
    tokens, or a CNN feature map flattened to ``H * W`` tokens), projects it
    to ``embed_dims``, prepends a learnable class token, optionally adds a
    learned position embedding, runs the blocks and predicts one logit per
    modality from the class token.

    Two sizes (``arch``), each setting ``embed_dims``, ``depth``,
    ``num_heads``, ``mlp_ratio`` and ``pos_embed``; an argument given
    explicitly overrides the arch's value:

    - ``'release'`` (default): the released network's size, width 768, 6
      blocks, 6 heads, MLP ratio 4 and a learned position embedding (the
      release's ``Discriminator`` in ``pretrain/models/ViT_Disc.py``).
    - ``'small'``: width 256, 6 blocks, 4 heads, MLP ratio 2, no position
      embedding (this project's earlier default; the CPU demo configs use
      it with fewer, narrower blocks).

    The position embedding is, as in the release, one learned table of
    ``num_tokens + 1`` rows (class token first) whose first ``L + 1`` rows
    are added to a sequence of ``L`` tokens: positions are sequence
    indices, so a shorter sequence uses a prefix of the table and a longer
    one than ``num_tokens`` is an error (raise ``num_tokens``). The release
    draws the table and the class token from N(0, 1); here both start at
    N(0, 0.02^2), the usual ViT initialisation.

    Args:
        in_channels (int): Channel dimension of the incoming tokens.
        num_modalities (int): Number of output logits. Defaults to 2.
        arch (str): ``'release'`` or ``'small'``. Defaults to ``'release'``.
        embed_dims (int, optional): Width of the transformer (release 768,
            small 256).
        depth (int, optional): Number of blocks (both archs 6).
        num_heads (int, optional): Attention heads (release 6, small 4).
        mlp_ratio (float, optional): Hidden width of the MLPs (release 4,
            small 2).
        pos_embed (bool, optional): Add a learned position embedding
            (release True, small False).
        num_tokens (int): The most tokens a sequence may have when
            ``pos_embed`` is on. Defaults to 576 (the release's table has
            577 rows: its class token and the 24 x 24 patches of ViT-B/16
            at 384 px).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    arch_zoo = {
        'release':
        dict(embed_dims=768, depth=6, num_heads=6, mlp_ratio=4.,
             pos_embed=True),
        'small':
        dict(embed_dims=256, depth=6, num_heads=4, mlp_ratio=2.,
             pos_embed=False),
    }

    def __init__(self,
                 in_channels: int,
                 num_modalities: int = 2,
                 arch: str = 'release',
                 embed_dims: Optional[int] = None,
                 depth: Optional[int] = None,
                 num_heads: Optional[int] = None,
                 mlp_ratio: Optional[float] = None,
                 pos_embed: Optional[bool] = None,
                 num_tokens: int = 576,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_zoo:
            raise ValueError(f'MICSL2AttnDiscriminator: arch={arch!r} is '
                             f'not one of {sorted(self.arch_zoo)}.')
        given = dict(embed_dims=embed_dims, depth=depth, num_heads=num_heads,
                     mlp_ratio=mlp_ratio, pos_embed=pos_embed)
        settings = {
            k: self.arch_zoo[arch][k] if v is None else v
            for k, v in given.items()
        }
        self.arch = arch
        self.embed_dims = dims = settings['embed_dims']
        self.num_tokens = num_tokens
        self.in_proj = SpectralScaledLinear(in_channels, dims)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        if settings['pos_embed']:
            self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens + 1,
                                                      dims))
        else:
            self.pos_embed = None
        self.blocks = nn.ModuleList([
            L2AttentionBlock(dims, settings['num_heads'],
                             settings['mlp_ratio'])
            for _ in range(settings['depth'])
        ])
        self.norm = nn.LayerNorm(dims)
        self.fc = nn.Linear(dims, num_modalities)

    def init_weights(self) -> None:
        super().init_weights()
        nn.init.normal_(self.cls_token, std=0.02)
        if self.pos_embed is not None:
            nn.init.normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, SpectralScaledLinear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                m.reset_sigma0()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return ``(N, num_modalities)`` logits for ``(N, L, C)`` tokens."""
        x = self.in_proj(tokens)
        x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], dim=1)
        if self.pos_embed is not None:
            length = x.size(1) - 1
            if length > self.num_tokens:
                raise ValueError(
                    f'MICSL2AttnDiscriminator: {length} tokens, but the '
                    f'position embedding holds {self.num_tokens} '
                    '(set model.discriminator.num_tokens to the number of '
                    'tokens the encoder returns, or pos_embed=False).')
            x = x + self.pos_embed[:, :x.size(1)]
        for block in self.blocks:
            x = block(x)
        return self.fc(self.norm(x[:, 0]))
