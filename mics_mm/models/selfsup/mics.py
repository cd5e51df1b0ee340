"""MICS synergistic pre-training (arXiv 2509.17492)."""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import ExponentialMovingAverage
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn

from mmpretrain.models.selfsup import BaseSelfSupervisor
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

from ...utils.non_finite import guarded, stop_if_non_finite
from ..utils import global_feature, merge_loss_weights

DEFAULT_LOSS_WEIGHTS = dict(reconstruction=10.0, consistency=1.0, aligned=0.1)


def _tokens(feat: torch.Tensor) -> torch.Tensor:
    """Token sequence ``(N, L, C)``: ViT tokens or a flattened CNN map."""
    if feat.dim() == 4:
        return feat.flatten(2).transpose(1, 2)
    if feat.dim() == 2:
        return feat.unsqueeze(1)
    return feat


@MODELS.register_module()
class MICS(BaseSelfSupervisor):
    """MICS: synergistic multimodal pre-training.

    Implementation of the pre-training stage of `MICS: Multimodal Medical
    Image Classification via Synergistic Learning Pre-training
    <https://arxiv.org/abs/2509.17492>`_ (docs/methods.md, "MICS"): one modality is an
    augmented view of the other, and a shared encoder is trained with three
    losses, each switchable and weighted from the config:

    1. *Consistency* (``head``, :class:`MICSConsistencyHead`): cross-modal
       contrast of projected global features against a momentum encoder
       (EMA of backbone + neck, ``momentum`` 0.005 in mmengine's convention,
       i.e. the paper's m = 0.995) and its queue.
    2. *Reconstructive* (``recon_neck`` + ``recon_head``): masked image
       modelling, MAE-style token dropping for ViTs (``MAEViT`` +
       ``MAEPretrainDecoder`` + ``MAEPretrainHead``) or SimMIM-style masked
       input for CNNs (``MaskedResNet`` + ``SimMIMLinearDecoder`` +
       ``SimMIMHead``). With ``cross_modal_recon=True`` the target of
       modality ``i`` is the co-registered image of modality ``i + 1``
       (docs/methods.md, "MICS decision 6").
    3. *Aligned* (``discriminator`` + ``aligned_head``): an adversarial game
       in which a discriminator with its own optimizer learns to tell the
       modalities' token representations apart and the encoder learns to
       make them indistinguishable; the gradient reaches the encoder
       (docs/methods.md, "MICS decision 7", the released detach bug fixed).

    Total loss (public code): ``10 * recon + 1 * consistency + 0.1 *
    aligned``, from ``loss_weights``. Modalities are generic (N >= 2);
    inputs come as a dict keyed by modality (``PerModalityDataPreprocessor``), and
    all modalities of a batch go through the encoder in one call.

    Deviation (off by default; on in this project's ResNet configs):
    ``consistency_from_masked=True`` takes the online consistency features
    (and the discriminator's tokens) from the masked pass instead of a
    separate full pass; the momentum encoder still sees full images. For a
    CNN, whose masked input costs a whole encoder pass, this saves one full
    forward/backward per modality (ResNet-18 at 64 px: 1.5x a SimCLR step
    instead of 2.5x, ``tools/benchmark/pretrain_speed.py``). The paper
    only has ViTs, for which the masked pass is cheap and the separate full
    pass (the public code's choice) is kept.

    Args:
        backbone (dict): Encoder config. Must accept ``mask=`` (``MAEViT``,
            ``MaskedResNet``) when the reconstructive loss is on.
        neck (dict, optional): Projection of the global feature for the
            consistency loss (e.g. ``LinearNeck`` to 256). Defaults to None.
        head (dict, optional): Consistency head; None switches the
            consistency loss off. Defaults to None.
        recon_neck (dict, optional): Reconstruction decoder. Defaults to None.
        recon_head (dict, optional): Reconstruction loss head; None switches
            the reconstructive loss off. Defaults to None.
        discriminator (dict, optional): Modality discriminator; None switches
            the aligned loss off. Defaults to None.
        aligned_head (dict, optional): Adversarial loss head. Defaults to
            ``dict(type='MICSAlignedHead')`` when a discriminator is given.
        modalities (Sequence[str]): Modality names in input order.
            Defaults to ('wli', 'nbi').
        loss_weights (dict, optional): Weights of ``reconstruction``,
            ``consistency`` and ``aligned``; missing keys take the paper's
            10 / 1 / 0.1. Defaults to None.
        momentum (float): EMA momentum of the momentum encoder (mmengine
            convention: ``ema = (1 - m) * ema + m * online``). Defaults to
            0.005.
        cross_modal_recon (bool): Reconstruct the next modality instead of
            the input one. Defaults to False.
        consistency_from_masked (bool): See "Deviation" above. Defaults to
            False.
        pretrained (str, optional): Checkpoint to initialise from.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='PerModalityDataPreprocessor')``.
        init_cfg (dict, optional): Initialisation config.
    """

    DISC_INPUTS = '_disc_inputs'

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 recon_neck: Optional[dict] = None,
                 recon_head: Optional[dict] = None,
                 discriminator: Optional[dict] = None,
                 aligned_head: Optional[dict] = None,
                 modalities: Sequence[str] = ('wli', 'nbi'),
                 loss_weights: Optional[Dict[str, float]] = None,
                 momentum: float = 0.005,
                 cross_modal_recon: bool = False,
                 consistency_from_masked: bool = False,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='PerModalityDataPreprocessor')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.modalities = tuple(modalities)
        if len(self.modalities) < 2 or len(set(self.modalities)) != len(
                self.modalities):
            raise ValueError('MICS: `modalities` needs at least two distinct '
                             f'names, got {self.modalities}.')
        self.loss_weights = merge_loss_weights(DEFAULT_LOSS_WEIGHTS,
                                               loss_weights, 'MICS')
        self.cross_modal_recon = cross_modal_recon
        self.consistency_from_masked = consistency_from_masked

        if (recon_neck is None) != (recon_head is None):
            raise ValueError('MICS: give both `recon_neck` and `recon_head` '
                             'to use the reconstructive loss, or neither.')
        self.recon_neck = MODELS.build(recon_neck) if recon_neck else None
        self.recon_head = MODELS.build(recon_head) if recon_head else None
        self.discriminator = MODELS.build(
            discriminator) if discriminator else None
        if discriminator and aligned_head is None:
            aligned_head = dict(type='MICSAlignedHead')
        self.aligned_head = MODELS.build(
            aligned_head) if discriminator else None
        if not (self.with_head or self.with_recon or self.with_aligned):
            raise ValueError('MICS: every loss is switched off; set at least '
                             'one of `head`, `recon_head`, `discriminator`.')

        self._takes_mask = 'mask' in inspect.signature(
            self.backbone.forward).parameters
        if (self.with_recon or consistency_from_masked) and \
                not self._takes_mask:
            raise TypeError(
                f'MICS: the reconstructive loss needs a backbone with a '
                f'masked forward (`forward(x, mask=...)`): use MAEViT for '
                f'ViTs or MaskedResNet for ResNets, not '
                f'{type(self.backbone).__name__}; or set recon_head=None.')
        if self.with_head:
            if not self.with_neck:
                raise ValueError('MICS: the consistency head needs a `neck` '
                                 '(projection, e.g. LinearNeck to 256-d).')
            self.momentum_encoder = ExponentialMovingAverage(
                nn.Sequential(self.backbone, self.neck), momentum=momentum)

    @property
    def with_recon(self) -> bool:
        """Whether the reconstructive loss is on."""
        return self.recon_head is not None

    @property
    def with_aligned(self) -> bool:
        """Whether the aligned (adversarial) loss is on."""
        return self.discriminator is not None

    def _full_forward(self, backbone: nn.Module,
                      x: torch.Tensor) -> torch.Tensor:
        """Last-stage output of an unmasked forward."""
        out = backbone(x, mask=None) if self._takes_mask else backbone(x)
        return out[-1]

    def extract_feat(self, inputs: Union[torch.Tensor, Dict[str,
                                                            torch.Tensor]]):
        """Backbone features of a tensor, or of each modality of a dict.

        The modalities of a dict go through the encoder as one batch, as in
        training, so that BatchNorm in training mode (mmpretrain's
        ``PreciseBNHook`` calls this) sees the statistics of both.
        """
        if isinstance(inputs, dict):
            names = list(inputs)
            sizes = [inputs[m].size(0) for m in names]
            out = self.extract_feat(torch.cat([inputs[m] for m in names]))
            if isinstance(out, torch.Tensor):
                return dict(zip(names, out.split(sizes)))
            parts = [o.split(sizes) for o in out]
            return {m: tuple(p[i] for p in parts) for i, m in enumerate(names)}
        return self.backbone(
            inputs, mask=None) if self._takes_mask else self.backbone(inputs)

    def forward(self,
                inputs: Union[torch.Tensor, Dict[str, torch.Tensor],
                              Tuple[torch.Tensor, torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """Modes ``tensor`` and ``loss`` as mmpretrain, plus ``disc_loss``.

        ``disc_loss`` takes ``inputs=(tokens, labels)`` (the detached
        representations produced by the ``loss`` pass) and returns the
        discriminator's loss; :meth:`train_step` calls it through the
        (possibly distributed) model wrapper.
        """
        if mode == 'disc_loss':
            tokens, labels = inputs
            logits = self.discriminator(tokens)
            return dict(loss_disc=self.aligned_head.disc_loss(logits, labels))
        return super().forward(inputs, data_samples, mode)

    def loss(self, inputs: Dict[str, torch.Tensor],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Compute the three MICS losses for one batch.

        Args:
            inputs (dict[str, Tensor]): ``{modality: (B, C, H, W)}``.
            data_samples (list[DataSample]): Unused (no labels needed).

        Returns:
            dict[str, Tensor]: ``loss_consistency``, ``loss_recon``,
            ``loss_aligned`` (weighted, each present when switched on), the
            consistency temperature, and under ``DISC_INPUTS`` the detached
            tokens and labels for the discriminator step.
        """
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f'MICS: batch lacks modalities {missing}; it has '
                           f'{sorted(inputs)}. Check the pipeline packs '
                           f'every modality in {self.modalities}.')
        views = [inputs[m] for m in self.modalities]
        batch = views[0].size(0)
        num = len(views)
        x = torch.cat(views)
        losses = {}

        need_full = self.with_head and not self.consistency_from_masked
        need_full |= self.with_aligned and not (self.consistency_from_masked
                                                and self.with_recon)
        full = self._full_forward(self.backbone, x) if need_full else None
        latent = None
        if self.with_recon or self.consistency_from_masked:
            latent, mask, ids_restore = self.backbone(x, mask=True)
        if self.with_recon:
            pred = self.recon_neck(latent) if ids_restore is None else \
                self.recon_neck(latent, ids_restore)
            target = x
            if self.cross_modal_recon:
                target = torch.cat(views[1:] + views[:1])
            losses['loss_recon'] = self.loss_weights[
                'reconstruction'] * self.recon_head.loss(pred, target, mask)

        online = full if full is not None else latent
        if self.with_head:
            z = self.neck((global_feature(online), ))[0]
            with torch.no_grad():
                self.momentum_encoder.update_parameters(
                    nn.Sequential(self.backbone, self.neck))
                m_backbone, m_neck = self.momentum_encoder.module
                z_m = m_neck(
                    (global_feature(self._full_forward(m_backbone, x)), ))[0]
            losses['loss_consistency'] = self.loss_weights[
                'consistency'] * self.head.loss(
                    z.split(batch), z_m.split(batch))
            losses['temperature'] = self.head.temperature.detach()

        if self.with_aligned:
            tokens = _tokens(online)
            labels = torch.arange(
                num, device=x.device).repeat_interleave(batch)
            logits = self.discriminator(tokens)
            losses['loss_aligned'] = self.loss_weights[
                'aligned'] * self.aligned_head.loss(logits, labels)
            losses[self.DISC_INPUTS] = (tokens.detach(), labels)
        return losses

    def _wrappers(
        self, optim_wrapper: Union[OptimWrapper, OptimWrapperDict]
    ) -> Tuple[OptimWrapper, Optional[OptimWrapper]]:
        """Split the optimizer wrappers into (encoder, discriminator)."""
        if isinstance(optim_wrapper, OptimWrapperDict):
            names = set(optim_wrapper.keys())
            if 'generator' not in names or (self.with_aligned and
                                            'discriminator' not in names):
                raise KeyError(
                    f'MICS: optim_wrapper has {sorted(names)}; it needs '
                    "'generator' (and 'discriminator' when the aligned loss "
                    "is on), see configs/_base_/schedules/.")
            return optim_wrapper['generator'], optim_wrapper[
                'discriminator'] if self.with_aligned else None
        if self.with_aligned:
            raise TypeError(
                'MICS: the aligned loss trains a discriminator with its own '
                "optimizer: use optim_wrapper=dict(constructor='Partwise"
                "OptimWrapperConstructor', generator=dict(...), "
                'discriminator=dict(...)), or set model.discriminator=None.')
        return optim_wrapper, None

    def train_step(self,
                   data: Union[dict, tuple, list],
                   optim_wrapper: Union[OptimWrapper, OptimWrapperDict],
                   ddp_model: Optional[nn.Module] = None
                   ) -> Dict[str, torch.Tensor]:
        """One encoder step, then one discriminator step.

        Args:
            data (dict): A collated batch from the dataloader.
            optim_wrapper (OptimWrapper | OptimWrapperDict): ``generator``
                (everything but the discriminator) and ``discriminator``.
            ddp_model (nn.Module, optional): The distributed wrapper, so both
                forwards run through it and DDP synchronises the gradients
                (``MultiForwardDistributedDataParallel`` passes itself).

        Returns:
            dict[str, Tensor]: Logged values.
        """
        model = ddp_model if ddp_model is not None else self
        gen_wrapper, disc_wrapper = self._wrappers(optim_wrapper)
        with gen_wrapper.optim_context(model):
            data = self.data_preprocessor(data, True)
            losses = model(**data, mode='loss')
        disc_inputs = losses.pop(self.DISC_INPUTS, None)
        parsed, log_vars = self.parse_losses(losses)
        self._check_finite(gen_wrapper, log_vars)
        gen_wrapper.update_params(parsed)
        if self.with_head:
            self.head.flush()  # enqueue now that backward is done
        if disc_wrapper is not None:
            # The generator's backward also reached the discriminator.
            disc_wrapper.zero_grad()
            with disc_wrapper.optim_context(model):
                disc_losses = model(disc_inputs, mode='disc_loss')
            disc_parsed, _ = self.parse_losses(disc_losses)
            self._check_finite(disc_wrapper, {'loss_disc': disc_parsed})
            disc_wrapper.update_params(disc_parsed)
            log_vars['loss_disc'] = disc_parsed.detach()
        return log_vars

    @staticmethod
    def _check_finite(wrapper: OptimWrapper,
                      log_vars: Dict[str, torch.Tensor]) -> None:
        """Stop on a non-finite loss term, naming it, unless the runner's
        ``NonFiniteLossHook`` guards ``wrapper`` (it then applies the
        configured policy, 'stop' or 'skip', inside ``update_params``)."""
        if not guarded(wrapper):
            stop_if_non_finite(log_vars, 'MICS')
