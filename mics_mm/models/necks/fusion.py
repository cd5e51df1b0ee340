"""Multimodal fusion neck for MICS fine-tuning."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mics_mm.registry import MODELS
from torch import Tensor

from ..utils import global_feature

__all__ = ['MICSFusionNeck']


@MODELS.register_module()
class MICSFusionNeck(BaseModule):
    """Fuse per-modality pooled features into one feature vector.

    One encoder per modality produces a feature per sample; this neck mixes
    them. It accepts any non-empty subset of ``modalities`` so a classifier
    can still predict when a modality is missing at test time.

    Three modes are available:

    - ``'concat'``: features are concatenated in ``modalities`` order, so
      ``out_channels = in_channels * len(modalities)``. A missing modality is
      replaced by a learned per-modality "missing" embedding (initialised
      with zeros), which keeps the output width fixed.
    - ``'gated'``: each modality gets a scalar gate
      ``g_m = w_m^T f_m + b_m`` (one ``Linear(in_channels, 1)`` each); a
      softmax over the *present* modalities gives weights ``a_m`` and the
      output is ``sum_m a_m f_m`` (``out_channels = in_channels``). The last
      weights, shape (B, M_present), are kept in ``last_gate_weights``.
    - ``'cross_attention'``: each present modality is projected to
      ``embed_dims``, a learned modality embedding is added, ``depth``
      pre-norm transformer encoder layers run over the M_present tokens and
      the tokens are averaged (``out_channels = embed_dims``).

    Inputs may be pooled features (B, C); feature maps (B, C, H, W) are
    global-average-pooled and token sequences (B, L, C) are reduced to their
    first token (e.g. the [CLS] token of a ViT).

    Args:
        in_channels (int): Channels of each modality's feature.
        modalities (Sequence[str]): Names of all modalities, in order.
            Defaults to ``('wli', 'nbi')``.
        mode (str): ``'concat'``, ``'gated'`` or ``'cross_attention'``.
            Defaults to ``'concat'``.
        embed_dims (int): Token width for ``'cross_attention'``.
            Defaults to 256.
        num_heads (int): Attention heads for ``'cross_attention'``.
            Defaults to 4.
        depth (int): Transformer layers for ``'cross_attention'``.
            Defaults to 1.
        dropout (float): Dropout in the transformer layers.
            Defaults to 0.0.
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None.
    """

    MODES = ('concat', 'gated', 'cross_attention')

    def __init__(self,
                 in_channels: int,
                 modalities: Sequence[str] = ('wli', 'nbi'),
                 mode: str = 'concat',
                 embed_dims: int = 256,
                 num_heads: int = 4,
                 depth: int = 1,
                 dropout: float = 0.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mode not in self.MODES:
            raise ValueError(
                f'Unknown fusion mode {mode!r}; expected one of {self.MODES}.')
        modalities = tuple(modalities)
        if len(modalities) == 0 or len(set(modalities)) != len(modalities):
            raise ValueError('`modalities` must be non-empty and unique, got '
                             f'{modalities}.')
        self.in_channels = in_channels
        self.modalities = modalities
        self.mode = mode
        self.last_gate_weights: Optional[Tensor] = None

        if mode == 'concat':
            self.missing_embeds = nn.ParameterDict({
                m: nn.Parameter(torch.zeros(in_channels))
                for m in modalities
            })
            self.out_channels = in_channels * len(modalities)
        elif mode == 'gated':
            self.gates = nn.ModuleDict(
                {m: nn.Linear(in_channels, 1)
                 for m in modalities})
            self.out_channels = in_channels
        else:
            self.projs = nn.ModuleDict(
                {m: nn.Linear(in_channels, embed_dims)
                 for m in modalities})
            self.modality_embeds = nn.ParameterDict({
                m: nn.Parameter(torch.zeros(embed_dims))
                for m in modalities
            })
            self.layers = nn.ModuleList([
                nn.TransformerEncoderLayer(
                    d_model=embed_dims,
                    nhead=num_heads,
                    dim_feedforward=embed_dims * 4,
                    dropout=dropout,
                    batch_first=True,
                    norm_first=True) for _ in range(depth)
            ])
            self.norm = nn.LayerNorm(embed_dims)
            self.out_channels = embed_dims

    def init_weights(self) -> None:
        """Initialise modality embeddings, then apply ``init_cfg``."""
        super().init_weights()
        if self.mode == 'cross_attention' and self.init_cfg is None:
            for p in self.modality_embeds.values():
                nn.init.trunc_normal_(p, std=0.02)

    @staticmethod
    def _to_vector(feat: Tensor, name: str) -> Tensor:
        """Reduce a (B, C), (B, L, C) or (B, C, ...) map to (B, C)."""
        if feat.dim() < 2:
            raise ValueError(f'Feature of modality {name!r} must have a '
                             f'batch and a channel axis, got shape '
                             f'{tuple(feat.shape)}.')
        return global_feature(feat)

    def _check(self, feats: Dict[str, Tensor]) -> Dict[str, Tensor]:
        if not isinstance(feats, dict):
            raise TypeError('MICSFusionNeck expects a dict modality -> '
                            f'feature, got {type(feats).__name__}.')
        if len(feats) == 0:
            raise ValueError('MICSFusionNeck got an empty dict: at least one '
                             f'of {self.modalities} is needed.')
        unknown = [m for m in feats if m not in self.modalities]
        if unknown:
            raise ValueError(f'Unknown modality {unknown}; this neck knows '
                             f'{self.modalities}.')
        vecs = {m: self._to_vector(feats[m], m) for m in self.modalities
                if m in feats}
        for m, v in vecs.items():
            if v.shape[-1] != self.in_channels:
                raise ValueError(
                    f'Modality {m!r} has {v.shape[-1]} channels, expected '
                    f'{self.in_channels}.')
        return vecs

    def forward(self, feats: Dict[str, Tensor]) -> Tuple[Tensor]:
        """Fuse the features of the present modalities.

        Args:
            feats (dict[str, Tensor]): Modality name -> feature of shape
                (B, C), (B, L, C) or (B, C, H, W), for a non-empty subset of
                ``modalities``.

        Returns:
            tuple[Tensor]: A 1-tuple with the fused feature
            (B, ``out_channels``).
        """
        vecs = self._check(feats)
        present = list(vecs)
        ref = vecs[present[0]]
        if self.mode == 'concat':
            parts = []
            for m in self.modalities:
                if m in vecs:
                    parts.append(vecs[m])
                else:
                    emb = self.missing_embeds[m].to(ref.dtype)
                    parts.append(emb.unsqueeze(0).expand(ref.shape[0], -1))
            return (torch.cat(parts, dim=1), )
        if self.mode == 'gated':
            stacked = torch.stack([vecs[m] for m in present], dim=1)
            logits = torch.cat([self.gates[m](vecs[m]) for m in present],
                               dim=1)
            weights = logits.softmax(dim=1)
            self.last_gate_weights = weights.detach()
            return ((weights.unsqueeze(-1) * stacked).sum(dim=1), )
        tokens = torch.stack([
            self.projs[m](vecs[m]) + self.modality_embeds[m] for m in present
        ],
                             dim=1)
        for layer in self.layers:
            tokens = layer(tokens)
        return (self.norm(tokens).mean(dim=1), )
