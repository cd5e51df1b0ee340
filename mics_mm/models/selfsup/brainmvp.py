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
    <https://arxiv.org/abs/2410.10604>`_ as its public release runs them
    (docs/methods.md, "BrainMVP: proxy tasks"), for 2D slices
    ``(N, K, H, W)`` and 3D patches ``(N, K, D, H, W)`` alike
    (docs/methods.md, "BrainMVP decision 1"). Each sample brings ``K``
    sampled modalities of one study (their names in the metainfo
    ``modalities``); the encoder sees **one modality per view**:

    - one slot ``k`` is drawn for the whole batch; every sample's target is
      its modality ``m`` in that slot, a single channel;
    - *Modality template distillation* (MD view): ``m``'s masked blocks
      (``block_size`` blocks, ``mask_ratio``) are filled from the learnable
      template of ``m`` (``templates``), cropped at the sample's canvas
      position;
    - *Cross-modal reconstruction* (CMR view, own mask): ``m``'s masked
      blocks are filled, at the same positions, from a **different
      modality** ``n != m`` of the same study (a different name, never a
      duplicated copy of ``m``). A study with no other modality gets an MD
      view instead; their number is logged as ``md_fallback``. While
      ``use_cmr`` is False (the release's first 300 epochs) both views are
      MD views;
    - both views go through the shared encoder and the decoder
      (``recon_neck``, no skips), which reconstructs ``m``'s whole image /
      volume; ``recon_head`` computes the MSE over all voxels, weighted
      ``10 * view 1 + 1 * view 2`` (``loss_md`` and ``loss_cmr``, or
      ``loss_md2`` while the second view is an MD view for every sample);
    - *Modality-aware contrastive learning* (``head``, ``InfoNCEHead``): the
      two views' pooled deepest features, through the projection ``neck``,
      are positives for the same sample and negatives for the others.

    Nothing of ``m``'s hidden content reaches the encoder: its masked voxels
    hold template values or another modality's, and the views are separate
    samples of the batch (``tests/test_models/test_brainmvp_leak.py``). The
    module names follow :class:`MICS`: ``neck`` + ``head`` are the
    contrastive branch, ``recon_neck`` + ``recon_head`` the reconstructive
    one.

    ``use_cmr``, ``use_cl`` and ``use_md`` are switched by
    ``BrainMVPScheduleHook`` (docs/methods.md, "BrainMVP: schedule"); without
    the hook they stay as constructed.

    Args:
        backbone (dict): Encoder taking one input channel (an mmpretrain 2D
            backbone with ``in_channels=1`` or ``UniFormer3D``).
        neck (dict, optional): Projection of the pooled feature for the
            contrastive loss (e.g. ``NonLinearNeck``); None uses the pooled
            feature. Defaults to None.
        head (dict, optional): Contrastive head (``InfoNCEHead``); None
            switches CL off for good. Defaults to None.
        recon_neck (dict): Decoder to one channel at the input resolution
            (``BrainMVPLinearDecoder3D``, ``BrainMVPLinearDecoder2D``, ...).
            Required: both views reconstruct the target.
        recon_head (dict): Reconstruction loss head. Defaults to
            ``dict(type='BrainMVPReconHead')`` (MSE over all voxels).
        templates (dict, optional): ``BrainMVPModalityTemplates``; None
            switches MD off (both views are CMR views). Defaults to None.
        block_size (int): Side of a mask block. Defaults to 8 (release).
        mask_ratio (float): Fraction of blocks masked. Defaults to 0.8 (the
            paper; the release's code default is 0.875).
        loss_weights (dict, optional): ``md`` (view 1), ``cmr`` (view 2),
            ``cl``; missing keys take 10 / 1 / 1. Defaults to None.
        use_cmr (bool): Initial switch of the second view to CMR. Defaults
            to True (the schedule hook turns it off for the template phase).
        use_cl (bool): Initial CL switch. Defaults to False (late start).
        use_md (bool): Initial MD switch of the first view; False makes it a
            CMR view too (an option, not the release: its MD never stops).
            Defaults to True.
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
                 use_cmr: bool = True,
                 use_cl: bool = False,
                 use_md: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if recon_neck is None or recon_head is None:
            raise ValueError('BrainMVP: `recon_neck` (the decoder) and '
                             '`recon_head` are required; MD and CMR both '
                             'reconstruct the target.')
        if data_preprocessor is None:
            data_preprocessor = dict(type='BaseDataPreprocessor')
        super().__init__(
            backbone=backbone,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        # Built, and so initialised from the seed, in the order backbone,
        # decoder, projection, templates.
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
        self.use_cmr = use_cmr
        self.use_cl = use_cl
        self.use_md = use_md

    # ------------------------------------------------------------ views
    def _masks(self, n: int, spatial: Sequence[int], device) -> torch.Tensor:
        """One block mask per sample ``(N, 1, *spatial)``, 1 = masked."""
        bad = [s for s in spatial if s % self.block_size]
        if bad:
            raise ValueError(
                f'BrainMVP: input size {tuple(spatial)} is not divisible by '
                f'block_size={self.block_size}; change the crop / patch size.')
        grid = [s // self.block_size for s in spatial]
        mask = random_patch_mask(n, grid, self.mask_ratio, device)
        return upsample_mask(mask, self.block_size).view(n, 1, *spatial)

    @staticmethod
    def partners(names: Sequence[Sequence[str]], slot: int) -> List[int]:
        """For each sample, a random slot holding a *different* modality
        name than ``names[i][slot]``, or -1 when the study has none.

        Args:
            names (Sequence[Sequence[str]]): Canonical modality names of each
                sample's slots.
            slot (int): The target slot.

        Returns:
            list[int]: Partner slot per sample (-1: none).
        """
        out = []
        for row in names:
            others = [j for j, name in enumerate(row) if name != row[slot]]
            if others:
                out.append(others[int(torch.randint(len(others), (1, )))])
            else:
                out.append(-1)
        return out

    def md_fill(self, target: torch.Tensor, mask: torch.Tensor,
                names: Sequence[str],
                data_samples: Sequence[DataSample]) -> torch.Tensor:
        """``target`` ``(N, 1, *S)`` with its masked blocks filled from the
        templates of ``names`` at the samples' canvas positions."""
        n, _, *spatial = target.shape
        check_canvas(data_samples, self.templates.canvas, 'BrainMVP')
        offsets, size = canvas_positions(data_samples, spatial)
        index = torch.tensor([MRI_MODALITIES.index(m) for m in names])
        crops = self.templates.crop(index, offsets, size)
        crops = crops.reshape(n, 1, *spatial).to(target.dtype)
        return target * (1 - mask) + crops * mask

    @staticmethod
    def cmr_fill(target: torch.Tensor, mask: torch.Tensor,
                 other: torch.Tensor) -> torch.Tensor:
        """``target``'s masked blocks filled from ``other`` (same shape)."""
        return target * (1 - mask) + other * mask

    def views(self, x: torch.Tensor, data_samples: Sequence[DataSample]
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, str, str,
                         int]:
        """The two one-channel views of a batch and their target.

        Args:
            x (Tensor): ``(N, K, *S)`` the sampled modalities.
            data_samples (Sequence[DataSample]): With ``modalities``.

        Returns:
            tuple: ``(view1, view2, target, kind1, kind2, fallback)``:
            views and target ``(N, 1, *S)``, each view's kind (``'md'`` /
            ``'cmr'``) and the number of samples whose second view fell back
            to MD for lack of a second modality.
        """
        n, k, *spatial = x.shape
        names = [[canonical_modality(m) for m in s.metainfo['modalities']]
                 for s in data_samples]
        if any(len(row) != k for row in names):
            raise ValueError(f'BrainMVP: {k} input channels but the data '
                             'samples list other numbers of modalities.')
        slot = int(torch.randint(k, (1, )))
        target = x[:, slot:slot + 1]
        with_md = self.templates is not None
        kind1 = 'md' if with_md and self.use_md else 'cmr'
        kind2 = 'cmr' if self.use_cmr or not with_md else 'md'
        partners = self.partners(names, slot)
        fallback = 0
        views = []
        for kind in (kind1, kind2):
            mask = self._masks(n, spatial, x.device)
            if kind == 'md':
                views.append(
                    self.md_fill(target, mask, [r[slot] for r in names],
                                 data_samples))
                continue
            lonely = [i for i, j in enumerate(partners) if j < 0]
            if lonely and not with_md:
                raise ValueError(
                    'BrainMVP: cross-modal reconstruction needs a second '
                    'modality, but studies '
                    f'{[data_samples[i].metainfo.get("case") for i in lonely]}'
                    ' have one only; give templates (MD fills them) or drop '
                    'single-modality studies.')
            other = torch.stack([
                x[i, j] if j >= 0 else x[i, slot]
                for i, j in enumerate(partners)
            ]).unsqueeze(1)
            view = self.cmr_fill(target, mask, other)
            if lonely:  # a single-modality study: an MD view instead
                md = self.md_fill(target[lonely], mask[lonely],
                                  [names[i][slot] for i in lonely],
                                  [data_samples[i] for i in lonely])
                view = view.index_copy(0, torch.tensor(lonely), md)
                fallback += len(lonely)
            views.append(view)
        return views[0], views[1], target, kind1, kind2, fallback

    # ------------------------------------------------------------- loss
    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """MD and CMR reconstruction of one modality, plus CL when on."""
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        x = x.float()
        n = x.size(0)
        view1, view2, target, kind1, kind2, fallback = self.views(
            x, data_samples)
        feats = self.backbone(torch.cat([view1, view2]))
        pred = self.recon_neck(feats)
        errors = [self.recon_head.loss(p, target) for p in pred.split(n)]
        losses = {}
        if kind1 == 'md':
            losses['loss_md'] = self.loss_weights['md'] * errors[0]
            # view 2 is a CMR view unless every study fell back to MD
            cmr = kind2 == 'cmr' and fallback < n
            key = 'loss_cmr' if cmr else 'loss_md2'
            losses[key] = self.loss_weights['cmr'] * errors[1]
        else:  # no MD view (use_md=False or no templates): two CMR views
            losses['loss_cmr'] = self.loss_weights['cmr'] * (
                errors[0] + errors[1]) / 2
        losses['md_fallback'] = torch.tensor(float(fallback), device=x.device)
        if self.with_head and self.use_cl:
            z = global_feature(feats[-1])
            if self.with_neck:
                z = self.neck((z, ))[0]
            losses['loss_cl'] = self.loss_weights['cl'] * self.head.loss(
                z[:n], z[n:])
        return losses
