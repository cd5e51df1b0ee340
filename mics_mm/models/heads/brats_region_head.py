"""Segmentation head of BrainMVP's 3D downstream task: BraTS regions
(sigmoid, multi-label) or classes (softmax), deep supervision, the loss.

docs/methods.md, "BrainMVP: downstream". The release (``UniUnet`` with
``multi_scale=True`` and its ``EDiceLoss``) predicts the three BraTS regions
with one sigmoid each, from the last decoder output and, for deep
supervision, from the two before it (1x1x1 convolutions, trilinearly
upsampled with ``align_corners=True``); every output has the loss

    ``0.7 * mean_r(1 - Dice_r) + 0.3 * mean_r(BCE_r)``

with the soft Dice of the whole batch per region,
``(2 sum(p t) + 1) / (sum(p^2) + sum(t^2) + 1)``, and the three losses are
summed (weights 1, 1, 1).
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mics_mm.registry import MODELS

from ...evaluation.brats_scoring import BRATS_REGIONS

__all__ = ['BraTSRegionHead']

Regions = Union[str, Mapping[str, Sequence[int]]]


def _paint_order(regions: Mapping[str, Sequence[int]]
                 ) -> List[Tuple[int, int]]:
    """(region index, label) pairs that turn region masks into a label map.

    Regions are painted from the largest to the smallest; a region paints
    the one label it has beyond the smaller ones (BraTS 2021: WT -> 2,
    TC -> 1, ET -> 4), so the map gives back every region mask when the
    regions nest.
    """
    items = sorted(enumerate(regions.items()), key=lambda x: -len(x[1][1]))
    order = []
    for pos, (index, (name, ids)) in enumerate(items):
        smaller = set()
        for _, (_, other) in items[pos + 1:]:
            smaller |= set(int(i) for i in other)
        own = sorted(set(int(i) for i in ids) - smaller)
        if len(own) != 1:
            raise ValueError(
                f'BraTSRegionHead: region {name!r} = {tuple(ids)} must have '
                'exactly one label that no smaller region has (nested '
                f'regions such as BraTS\'), got {own}.')
        order.append((index, own[0]))
    return order


@MODELS.register_module()
class BraTSRegionHead(BaseModule):
    """Region (BraTS) or class-wise segmentation outputs with deep
    supervision and the BrainMVP release's loss.

    The head reads the last ``len(level_weights)`` decoder outputs: the
    last is the prediction, the others are deep supervision (training
    only), each a 1x1x1 convolution, upsampled to the prediction's size
    (trilinear, ``align_corners=True``, as the release).

    - ``regions`` (BraTS): one sigmoid channel per region, in the order of
      the mapping (``'2021'`` / ``'2023'``: WT, TC, ET of
      :data:`~mics_mm.evaluation.brats_scoring.BRATS_REGIONS`). Targets are
      the region masks of the label map (labels as stored, e.g. 1 / 2 / 4).
      Loss per output: ``dice_weight`` x MONAI ``DiceLoss`` (sigmoid,
      squared denominators, smoothing 1, over the whole batch per region,
      mean over regions) + ``ce_weight`` x binary cross-entropy with logits
      (mean). :meth:`predict` thresholds each region at ``threshold`` and
      paints a label map, largest region first (WT -> 2, TC -> 1, ET -> 4
      for 2021), as a BraTS submission must be.
    - ``regions=None`` (other label sets, e.g. the demo's tissue classes):
      ``num_classes`` softmax channels; loss MONAI ``DiceCELoss`` (one-hot
      targets, the same Dice settings) with the same weights; the
      prediction is the arg-max.

    The loss of the head is the ``level_weights``-weighted sum over the
    outputs (release: 1, 1, 1).

    Args:
        in_channels (Sequence[int]): Channels of the decoder outputs,
            coarse to fine (``UNETRDecoder3D.out_channels``; filled in by
            ``BrainMVPSegmentor3D`` when the config leaves it out).
        regions (str | Mapping | None): BraTS edition (``'2021'``,
            ``'2023'``), a mapping region -> labels, or None for
            class-wise outputs. Defaults to ``'2021'``.
        num_classes (int, optional): Classes, background included (only
            with ``regions=None``). Defaults to None.
        level_weights (Sequence[float]): Loss weight of each output used,
            the last the prediction. Defaults to ``(1., 1., 1.)``.
        dice_weight (float): Weight of the Dice loss. Defaults to 0.7.
        ce_weight (float): Weight of the (binary) cross-entropy. Defaults
            to 0.3.
        smooth (float): Dice smoothing (numerator and denominator).
            Defaults to 1.0.
        threshold (float): Sigmoid threshold of a region. Defaults to 0.5.
        init_cfg (dict | list, optional): Initialisation config. Defaults
            to None.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 regions: Optional[Regions] = '2021',
                 num_classes: Optional[int] = None,
                 level_weights: Sequence[float] = (1., 1., 1.),
                 dice_weight: float = 0.7,
                 ce_weight: float = 0.3,
                 smooth: float = 1.0,
                 threshold: float = 0.5,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        from monai.losses import DiceCELoss, DiceLoss
        if isinstance(regions, int):  # 2021 from --cfg-options
            regions = str(regions)
        if isinstance(regions, str):
            if regions not in BRATS_REGIONS:
                raise ValueError(f'BraTSRegionHead: unknown BraTS edition '
                                 f'{regions!r}; use one of '
                                 f'{sorted(BRATS_REGIONS)} or a mapping.')
            regions = BRATS_REGIONS[regions]
        in_channels = tuple(int(c) for c in in_channels)
        level_weights = tuple(float(w) for w in level_weights)
        if not level_weights or len(level_weights) > len(in_channels):
            raise ValueError(
                f'BraTSRegionHead: {len(level_weights)} level_weights for '
                f'{len(in_channels)} decoder outputs {in_channels}.')
        if regions is not None:
            if num_classes is not None:
                raise ValueError('BraTSRegionHead: give regions or '
                                 'num_classes (with regions=None), not both.')
            self.regions = {
                str(k): tuple(int(i) for i in v)
                for k, v in regions.items()
            }
            self.paint_order = _paint_order(self.regions)
            out_channels = len(self.regions)
            self.dice = DiceLoss(
                sigmoid=True, squared_pred=True, smooth_nr=smooth,
                smooth_dr=smooth, batch=True)
            self.ce = nn.BCEWithLogitsLoss()
        else:
            if not num_classes or num_classes < 2:
                raise ValueError('BraTSRegionHead: regions=None needs '
                                 f'num_classes >= 2, got {num_classes}.')
            self.regions = None
            out_channels = int(num_classes)
            self.dice_ce = DiceCELoss(
                to_onehot_y=True, softmax=True, squared_pred=True,
                smooth_nr=smooth, smooth_dr=smooth, batch=True,
                lambda_dice=dice_weight, lambda_ce=ce_weight)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.level_weights = level_weights
        self.dice_weight, self.ce_weight = float(dice_weight), float(ce_weight)
        self.threshold = float(threshold)
        used = in_channels[-len(level_weights):]
        self.convs = nn.ModuleList(
            nn.Conv3d(c, out_channels, kernel_size=1) for c in used)

    @property
    def region_names(self) -> Optional[Tuple[str, ...]]:
        """Names of the region channels (None in class-wise mode)."""
        return tuple(self.regions) if self.regions is not None else None

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Logits of every output used, at the prediction's size.

        Args:
            feats (Sequence[Tensor]): Decoder outputs, coarse to fine.

        Returns:
            list[Tensor]: ``(N, out_channels, *spatial)`` per output, deep
            supervision first, the prediction last.
        """
        feats = tuple(feats)[-len(self.convs):]
        size = feats[-1].shape[2:]
        outs = []
        for conv, feat in zip(self.convs, feats):
            logits = conv(feat)
            if logits.shape[2:] != size:
                logits = F.interpolate(
                    logits, size=size, mode='trilinear', align_corners=True)
            outs.append(logits)
        return outs

    def predict_logits(self, feats: Sequence[Tensor]) -> Tensor:
        """Logits of the prediction only (no deep-supervision outputs)."""
        return self.convs[-1](tuple(feats)[-1])

    def targets(self, labels: Tensor) -> Tensor:
        """Loss targets of a label map ``(N, *spatial)``: region masks
        ``(N, R, *spatial)`` (float) or class indices ``(N, 1, *spatial)``."""
        if self.regions is None:
            return labels.long().unsqueeze(1)
        masks = [
            torch.isin(labels, torch.tensor(ids, device=labels.device))
            for ids in self.regions.values()
        ]
        return torch.stack(masks, dim=1).float()

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        """The loss of one output against :meth:`targets`."""
        if self.regions is None:
            return self.dice_ce(logits, target)
        return (self.dice_weight * self.dice(logits, target) +
                self.ce_weight * self.ce(logits, target))

    def loss(self, logits: Sequence[Tensor],
             labels: Tensor) -> Dict[str, Tensor]:
        """Weighted sum of the losses of every output.

        Args:
            logits (Sequence[Tensor]): :meth:`forward`'s outputs.
            labels (Tensor): Label map ``(N, *spatial)`` (int).

        Returns:
            dict[str, Tensor]: ``loss_seg``.
        """
        if len(logits) != len(self.level_weights):
            raise ValueError(f'BraTSRegionHead: {len(logits)} outputs for '
                             f'{len(self.level_weights)} level_weights.')
        target = self.targets(labels)
        loss = sum(w * self.criterion(x, target)
                   for w, x in zip(self.level_weights, logits))
        return dict(loss_seg=loss)

    def predict(self, logits: Tensor) -> Tensor:
        """Label map ``(N, *spatial)`` (int64) from prediction logits."""
        if self.regions is None:
            return logits.argmax(dim=1)
        masks = logits.sigmoid() > self.threshold
        out = torch.zeros(
            (logits.shape[0], ) + tuple(logits.shape[2:]),
            dtype=torch.long, device=logits.device)
        for index, label in self.paint_order:
            out[masks[:, index]] = label
        return out
