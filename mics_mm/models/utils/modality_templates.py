"""Learnable per-modality templates on a canonical canvas (BrainMVP MD)."""
from typing import Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from mmpretrain.registry import MODELS


@MODELS.register_module()
class MicsModalityTemplates(BaseModule):
    """One learnable volume per modality, cropped at a sample's position.

    BrainMVP's modality template distillation (METHODS.md §2, "MD"): the
    masked blocks of modality ``m`` are filled from a learnable template of
    modality ``m`` on the SRI24 canvas (240 x 240 x 155 by default),
    min-max normalised to [0, 1] before use and cropped at the position the
    sample occupies on that canvas. The templates learn only through the
    reconstruction loss. Positions come from the MRI transforms
    (``canvas_offset``; a 2D slice is a crop of extent 1 along its axis,
    METHODS.md §2 decision 1). Parts of a crop outside the canvas (padding)
    are 0.

    Args:
        num_modalities (int): Number of templates (the modality vocabulary:
            8 for flair, t1, t1c, t2, mra, pd, dwi, adc).
        canvas (Sequence[int]): Canvas shape. Defaults to (240, 240, 155).
        init_std (float): Std of the random initialisation. Defaults to
            0.02.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_modalities: int = 8,
                 canvas: Sequence[int] = (240, 240, 155),
                 init_std: float = 0.02,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.canvas = tuple(int(c) for c in canvas)
        self.init_std = init_std
        self.templates = nn.Parameter(
            torch.zeros(num_modalities, *self.canvas))

    def init_weights(self) -> None:
        super().init_weights()
        nn.init.normal_(self.templates, std=self.init_std)

    def normalized(self) -> torch.Tensor:
        """Every template min-max normalised to [0, 1] (differentiable)."""
        flat = self.templates.flatten(1)
        low = flat.min(dim=1).values.view(-1, *([1] * len(self.canvas)))
        high = flat.max(dim=1).values.view(-1, *([1] * len(self.canvas)))
        return (self.templates - low) / (high - low).clamp_min(1e-6)

    def crop(self, modality: torch.Tensor, offset: torch.Tensor,
             size: Sequence[int]) -> torch.Tensor:
        """Crop each sample's template at its canvas position.

        Args:
            modality (Tensor): ``(N,)`` template index of each sample.
            offset (Tensor): ``(N, k)`` position of the crop origin on the
                canvas (may be negative or run past the end: zeros there).
            size (Sequence[int]): Crop extent ``(k,)``.

        Returns:
            Tensor: ``(N, *size)`` crops of the normalised templates.
        """
        size = tuple(int(s) for s in size)
        if len(size) != len(self.canvas) or offset.shape[1] != len(size):
            raise ValueError(
                f'MicsModalityTemplates: crop of {len(size)} axes with '
                f'offsets {tuple(offset.shape)} on a {self.canvas} canvas.')
        # Min-max statistics of the templates in use only (not the whole
        # canvas of every modality); the crops are scaled with them.
        used = sorted(set(modality.tolist()))
        flat = self.templates[used].flatten(1)
        low = dict(zip(used, flat.min(dim=1).values))
        span = dict(zip(used, (flat.max(dim=1).values -
                               flat.min(dim=1).values).clamp_min(1e-6)))
        out = self.templates.new_zeros(len(modality), *size)
        for i, (m, origin) in enumerate(zip(modality.tolist(),
                                            offset.tolist())):
            src, dst = [], []
            for start, extent, limit in zip(origin, size, self.canvas):
                lo, hi = max(start, 0), min(start + extent, limit)
                if hi <= lo:
                    break
                src.append(slice(lo, hi))
                dst.append(slice(lo - start, hi - start))
            else:
                out[(i, *dst)] = (self.templates[(m, *src)] - low[m]) / span[m]
        return out
