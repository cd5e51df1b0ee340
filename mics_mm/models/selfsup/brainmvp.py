"""BrainMVP pre-training (arXiv 2410.10604), 2D slices and 3D patches."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from mmpretrain.models.selfsup import BaseSelfSupervisor
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

from ...structures import MRI_MODALITIES, canonical_modality
from ..utils import (canvas_positions, check_canvas, global_feature,
                     merge_loss_weights, random_patch_mask, upsample_mask)

__all__ = ['BrainMVP']

DEFAULT_LOSS_WEIGHTS = dict(md=10.0, cmr=1.0, cl=1.0)


@MODELS.register_module()
class BrainMVP(BaseSelfSupervisor):
    """BrainMVP: multi-modal vision pre-training for brain MRI.

    Implementation of the three proxy tasks of `BrainMVP
    <https://arxiv.org/abs/2410.10604>`_ (docs/methods.md, "BrainMVP"), for 2D slices
    ``(N, K, H, W)`` and 3D patches ``(N, K, D, H, W)`` alike (decision 1):
    ``K`` sampled modalities are the input channels, and every channel gets
    its own random block mask (``block_size`` blocks, ``mask_ratio``):

    - *Modality template distillation* (MD view): masked blocks of channel
      ``k`` (modality ``m``) are filled from the learnable template of ``m``
      (``templates``, a ``BrainMVPModalityTemplates``), cropped at the sample's
      canvas position (``canvas_offset`` and, for slices, ``canvas_axis`` /
      ``slice_index`` in the data sample's metainfo).
    - *Cross-modal reconstruction* (CMR view): masked blocks of channel
      ``k`` are filled with another channel of the same study (independent
      mask).
    - Once the template period is over (``use_templates=False``) the first
      view is a second CMR view with its own mask.
    - Both views go through the shared encoder and the decoder
      (``recon_neck``, no skips), which reconstructs the full original
      input; ``recon_head`` (``BrainMVPReconHead``) computes the loss over
      the whole image / volume (MSE), weighted ``10 * MD + 1 * CMR`` as in
      the public code.
    - *Modality-aware contrastive learning* (``head``, ``InfoNCEHead``): the
      two views' pooled deepest features, through the projection ``neck``,
      are positives for the same sample and negatives for the others.

    The module names follow :class:`MICS`: ``neck`` + ``head`` are the
    contrastive branch, ``recon_neck`` + ``recon_head`` the reconstructive
    one.

    ``use_cl`` and ``use_templates`` are switched by
    ``BrainMVPScheduleHook`` (decision 2): the public code turns the
    contrastive loss on late in the schedule. Without the hook both stay as
    constructed.

    Args:
        backbone (dict): Encoder taking ``K`` input channels (an mmpretrain
            2D backbone with ``in_channels=K`` or ``UniFormer3D``).
        neck (dict, optional): Projection of the pooled feature for the
            contrastive loss (e.g. ``NonLinearNeck``); None uses the pooled
            feature. Defaults to None.
        head (dict, optional): Contrastive head (``InfoNCEHead``); None
            switches CL off for good. Defaults to None.
        recon_neck (dict): Decoder to ``K`` channels at the input resolution
            (``BrainMVPLinearDecoder2D`` / ``BrainMVPConvDecoder2D`` /
            ``BrainMVPConvDecoder3D``). Required: MD and CMR both
            reconstruct the input.
        recon_head (dict): Reconstruction loss head. Defaults to
            ``dict(type='BrainMVPReconHead')`` (MSE over all voxels).
        templates (dict, optional): ``BrainMVPModalityTemplates``; None
            switches MD off (the CMR view alone is trained). Defaults to
            None.
        block_size (int): Side of a mask block. Defaults to 8 (public code).
        mask_ratio (float): Fraction of blocks masked. Defaults to 0.8.
        loss_weights (dict, optional): ``md``, ``cmr``, ``cl``; missing keys
            take 10 / 1 / 1. Defaults to None.
        use_cl (bool): Initial CL switch. Defaults to False (late start).
        use_templates (bool): Initial MD switch. Defaults to True.
        data_preprocessor (dict, optional): Defaults to mmengine's
            ``BaseDataPreprocessor`` (MRI inputs are normalised by the
            transforms).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 recon_neck: Optional[dict] = None,
                 recon_head: dict = dict(type='BrainMVPReconHead'),
                 templates: Optional[dict] = None,
                 block_size: int = 8,
                 mask_ratio: float = 0.8,
                 loss_weights: Optional[Dict[str, float]] = None,
                 use_cl: bool = False,
                 use_templates: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if recon_neck is None or recon_head is None:
            raise ValueError('BrainMVP: `recon_neck` (the decoder) and '
                             '`recon_head` are required; MD and CMR both '
                             'reconstruct the input.')
        if data_preprocessor is None:
            data_preprocessor = dict(type='BaseDataPreprocessor')
        super().__init__(
            backbone=backbone,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        # Built, and so initialised from the seed, in the order backbone,
        # decoder, projection, templates: a seed gives the same initial
        # weights as in earlier runs of this project.
        self.recon_neck = MODELS.build(recon_neck)
        self.neck = MODELS.build(neck) if neck else None
        self.recon_head = MODELS.build(recon_head)
        self.templates = MODELS.build(templates) if templates else None
        self.loss_weights = merge_loss_weights(DEFAULT_LOSS_WEIGHTS,
                                               loss_weights, 'BrainMVP')
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f'BrainMVP: mask_ratio must be in [0, 1), got '
                             f'{mask_ratio}.')
        self.block_size = block_size
        self.mask_ratio = mask_ratio
        self.use_cl = use_cl
        self.use_templates = use_templates

    # ------------------------------------------------------------ views
    def _masks(self, shape: Tuple[int, ...], device) -> torch.Tensor:
        """One block mask per sample and channel, at voxel resolution."""
        n, k, *spatial = shape
        bad = [s for s in spatial if s % self.block_size]
        if bad:
            raise ValueError(
                f'BrainMVP: input size {tuple(spatial)} is not divisible by '
                f'block_size={self.block_size}; change the crop / patch size.')
        grid = [s // self.block_size for s in spatial]
        mask = random_patch_mask(n * k, grid, self.mask_ratio, device)
        return upsample_mask(mask, self.block_size).view(n, k, *spatial)

    @staticmethod
    def _partners(n: int, k: int, device) -> torch.Tensor:
        """For each (sample, channel) another channel of the same sample."""
        if k < 2:
            raise ValueError('BrainMVP: cross-modal reconstruction needs at '
                             'least 2 channels; sample K >= 2 modalities '
                             '(SampleModalities duplicates when fewer).')
        shift = torch.randint(1, k, (n, k), device=device)
        return (torch.arange(k, device=device) + shift) % k

    def md_view(self, x: torch.Tensor, mask: torch.Tensor,
                data_samples: Sequence[DataSample]) -> torch.Tensor:
        """Fill the masked blocks of each channel from its template."""
        n, k, *spatial = x.shape
        check_canvas(data_samples, self.templates.canvas, 'BrainMVP')
        offsets, size = canvas_positions(data_samples, spatial)
        names = [s.metainfo['modalities'] for s in data_samples]
        index = torch.tensor([[
            MRI_MODALITIES.index(canonical_modality(m)) for m in row
        ] for row in names]).flatten()
        crops = self.templates.crop(index, offsets.repeat_interleave(k, 0),
                                    size).reshape(n, k, *spatial)
        return x * (1 - mask) + crops.to(x.dtype) * mask

    def cmr_view(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Fill the masked blocks of each channel with another channel."""
        n, k = x.shape[:2]
        partners = self._partners(n, k, x.device)
        other = torch.gather(
            x, 1,
            partners.view(n, k, *([1] * (x.dim() - 2))).expand_as(x))
        return x * (1 - mask) + other * mask

    # ------------------------------------------------------------- loss
    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """MD and CMR reconstruction, plus CL when switched on."""
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        x = x.float()
        n = x.size(0)
        md = self.templates is not None and self.use_templates
        first = self._masks(x.shape, x.device)
        views = [
            self.md_view(x, first, data_samples)
            if md else self.cmr_view(x, first),
            self.cmr_view(x, self._masks(x.shape, x.device))
        ]
        feats = self.backbone(torch.cat(views))
        pred = self.recon_neck(feats)
        errors = [self.recon_head.loss(p, x) for p in pred.split(n)]
        losses = {}
        if md:
            losses['loss_md'] = self.loss_weights['md'] * errors[0]
            losses['loss_cmr'] = self.loss_weights['cmr'] * errors[1]
        else:  # after the template period: two CMR views
            losses['loss_cmr'] = self.loss_weights['cmr'] * (
                errors[0] + errors[1]) / 2
        if self.with_head and self.use_cl:
            z = global_feature(feats[-1])
            if self.with_neck:
                z = self.neck((z, ))[0]
            losses['loss_cl'] = self.loss_weights['cl'] * self.head.loss(
                z[:n], z[n:])
        return losses
