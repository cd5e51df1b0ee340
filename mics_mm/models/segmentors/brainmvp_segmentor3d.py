"""BrainMVP downstream 3D segmentation: encoder -> UNETR decoder -> head.

The release's downstream network (``UniUnet``: UniFormer encoder with a
4-channel stem, UNETR-style decoder with skips, deep supervision) and its
training recipe (template channel substitution, a 0.1-weighted MSE between
two substituted views, sliding-window inference), docs/methods.md,
"BrainMVP: downstream".
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import Tensor

from mics_mm.registry import MODELS

from ...utils.checkpoint_io import read_checkpoint
from ..utils import inflate_input_channels, load_matching_weights
from .template_substitution import BrainMVPTemplateSubstitution

__all__ = ['BrainMVPSegmentor3D']

_OWNER = 'BrainMVPSegmentor3D'
_STEM_MODES = ('reinit', 'inflate')


def _stem_name(backbone: nn.Module) -> Tuple[str, nn.Conv3d]:
    """Name and module of the backbone's first 3D convolution (the stem)."""
    for name, module in backbone.named_modules():
        if isinstance(module, nn.Conv3d):
            return name, module
    raise ValueError(f'{_OWNER}: the backbone has no Conv3d stem.')


@MODELS.register_module()
class BrainMVPSegmentor3D(BaseModel):
    """3D segmentation with a BrainMVP encoder (the release's downstream).

    ``backbone(x)`` gives the stage outputs (all stages: ``out_indices``
    0..3), ``neck(feats, x)`` decodes them with skips back to the input
    resolution (``UNETRDecoder3D``), ``head`` makes the outputs and owns the
    loss (``BraTSRegionHead``). The neck's ``in_channels`` / ``strides`` /
    ``input_channels`` and the head's ``in_channels`` are read off the built
    backbone (one forward pass of a ``probe_size``^3 zero volume) when the
    config leaves them out.

    **Pre-trained encoder.** ``pretrained`` names a BrainMVP pre-training
    checkpoint; at ``init_weights`` every backbone tensor is loaded from its
    ``pretrained_prefix`` keys (strictly: a missing key or another shape
    raises), except the stem (the backbone's first Conv3d), which BrainMVP
    pre-trains on one channel and the downstream model uses on
    ``in_channels``:

    - ``stem_init='reinit'`` (default, the release: it deletes
      ``patch_embed1.proj`` from the checkpoint): the stem keeps its random
      initialisation;
    - ``stem_init='inflate'``: a 1-channel stem kernel is repeated over the
      C input channels and divided by C (``inflate_input_channels``), so C
      identical channels give what the pre-trained stem gave for one; a
      stem with C channels already loads as it is, any other raises.

    **Templates** (``templates``: the pre-training checkpoint, usually the
    same file): missing modalities are filled in every mode
    (``fill_missing``); in training, ``template_mix`` substitutes up to
    ``max_mix_channels`` channels per sample, and ``feature_mse_weight > 0``
    makes two independently substituted views of each sample (the release's
    ``pair_aug`` + ``use_cl``): both go through the network (two passes),
    the segmentation loss is taken over both, and
    ``feature_mse_weight * MSE`` compares the two views' first
    deep-supervision output (the release's ``out4``: logits of the decoder
    output at stride 4, upsampled to the input; the deepest encoder output
    when the head has no deep supervision). See
    :class:`BrainMVPTemplateSubstitution`.

    **Intensity augmentation** (training, after the substitution as in the
    release): each sample gets ``x <- (x + u) * (1 + v)`` with
    ``u ~ U(-intensity_shift, intensity_shift)`` and
    ``v ~ U(-intensity_scale, intensity_scale)`` over all its channels
    (MONAI ``RandShiftIntensity`` then ``RandScaleIntensity``, prob 1; the
    two views of a sample share them).

    **Prediction**: MONAI ``sliding_window_inference`` over the whole input
    (``test_cfg``: ``roi_size``, ``overlap``, ``sw_batch_size``, ``mode``),
    then the head's label map, stored as ``pred_seg`` (int64,
    the input's spatial shape) in each data sample.

    Args:
        backbone (dict): 3D encoder config (``UniFormer3D`` with
            ``out_indices=(0, 1, 2, 3)``).
        neck (dict): Decoder config (``UNETRDecoder3D``).
        head (dict): Head config (``BraTSRegionHead``).
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='MRIDataPreprocessor')`` (stacking only: the
            templates are this model's, not the preprocessor's).
        pretrained (str, optional): BrainMVP checkpoint of the encoder.
            Defaults to None.
        pretrained_prefix (str): Key prefix of the encoder in it. Defaults
            to ``'backbone.'``.
        stem_init (str): ``'reinit'`` or ``'inflate'``. Defaults to
            ``'reinit'`` (the release).
        templates (str, optional): BrainMVP checkpoint with the templates.
            Defaults to None.
        templates_key (str): Their state-dict key. Defaults to
            ``'templates.templates'``.
        fill_missing (bool): Fill missing modalities from the templates.
            Defaults to True.
        template_mix (bool): Random template channel substitution in
            training. Defaults to False.
        max_mix_channels (int): Most channels substituted. Defaults to 3.
        feature_mse_weight (float): Weight of the two-view MSE; 0 turns the
            second view off. Defaults to 0.
        intensity_shift (float): Intensity shift range. Defaults to 0.
        intensity_scale (float): Intensity scale range. Defaults to 0.
        test_cfg (dict, optional): Sliding window settings. Defaults to
            ``dict(roi_size=96, overlap=0.5, sw_batch_size=1,
            mode='constant')``.
        probe_size (int): Edge of the probe volume. Defaults to 32.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 pretrained_prefix: str = 'backbone.',
                 stem_init: str = 'reinit',
                 templates: Optional[str] = None,
                 templates_key: str = 'templates.templates',
                 fill_missing: bool = True,
                 template_mix: bool = False,
                 max_mix_channels: int = 3,
                 feature_mse_weight: float = 0.0,
                 intensity_shift: float = 0.0,
                 intensity_scale: float = 0.0,
                 test_cfg: Optional[dict] = None,
                 probe_size: int = 32,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='MRIDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if stem_init not in _STEM_MODES:
            raise ValueError(f'{_OWNER}: stem_init must be one of '
                             f'{_STEM_MODES}, got {stem_init!r}.')
        if (template_mix or feature_mse_weight) and not templates:
            raise ValueError(
                f'{_OWNER}: template_mix / feature_mse_weight substitute '
                'channels by templates; set templates=<BrainMVP checkpoint> '
                'or turn them off.')
        self.backbone = MODELS.build(backbone)
        self.stem_key, stem = _stem_name(self.backbone)
        self.in_channels = stem.in_channels
        channels, strides = self._probe(probe_size)
        neck = dict(neck)
        neck.setdefault('in_channels', channels)
        neck.setdefault('strides', strides)
        neck.setdefault('input_channels', self.in_channels)
        self.neck = MODELS.build(neck)
        head = dict(head)
        head.setdefault('in_channels', tuple(self.neck.out_channels))
        self.head = MODELS.build(head)

        self.pretrained = pretrained
        self.pretrained_prefix = pretrained_prefix
        self.stem_init = stem_init
        self.template_sub = BrainMVPTemplateSubstitution(
            templates, templates_key, max_channels=max_mix_channels)
        self.fill_missing = bool(fill_missing)
        self.template_mix = bool(template_mix)
        self.feature_mse_weight = float(feature_mse_weight)
        self.intensity_shift = float(intensity_shift)
        self.intensity_scale = float(intensity_scale)
        test_cfg = dict(
            dict(roi_size=96, overlap=0.5, sw_batch_size=1, mode='constant'),
            **(test_cfg or {}))
        roi = test_cfg['roi_size']
        test_cfg['roi_size'] = (roi, ) * 3 if isinstance(roi, int) else \
            tuple(roi)
        self.test_cfg = test_cfg

    # ------------------------------------------------------------ building
    def _probe(self, size: int) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
        """Channels and total strides of the backbone outputs."""
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            with torch.no_grad():
                outs = self.backbone(
                    torch.zeros(1, self.in_channels, size, size, size))
        finally:
            self.backbone.train(was_training)
        channels, strides = [], []
        for out in outs:
            if out.dim() != 5 or min(out.shape[2:]) < 1 or \
                    size % out.shape[2] or len(set(out.shape[2:])) != 1:
                raise ValueError(
                    f'{_OWNER}: the backbone output {tuple(out.shape)} for a '
                    f'{size}^3 probe is not a 3D map of an integer stride; '
                    'check the backbone or probe_size.')
            channels.append(int(out.shape[1]))
            strides.append(size // int(out.shape[2]))
        return tuple(channels), tuple(strides)

    def init_weights(self) -> None:
        """Initialise, then load the pre-trained encoder (if any)."""
        super().init_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, checkpoint: str) -> None:
        """Load the encoder of a BrainMVP checkpoint (see the class doc).

        Args:
            checkpoint (str): The checkpoint.
        """
        ckpt = read_checkpoint(checkpoint)
        state = ckpt.get('state_dict', ckpt)
        prefix = self.pretrained_prefix
        weights = {
            k[len(prefix):]: v
            for k, v in state.items() if k.startswith(prefix)
        }
        if not weights:
            raise KeyError(f'{_OWNER}: {checkpoint!r} has no {prefix!r} '
                           'keys; is it a BrainMVP pre-training checkpoint?')
        own = self.backbone.state_dict()
        if self.stem_init == 'reinit':
            for key in (f'{self.stem_key}.weight', f'{self.stem_key}.bias'):
                if key in own:
                    weights[key] = own[key]
        else:  # a 1-channel kernel spread over the input channels
            inflate_input_channels(weights, own)
        load_matching_weights(
            self.backbone, weights, checkpoint, 'the encoder',
            hint='Use a BrainMVP checkpoint of the same backbone arch; a '
            'stem with neither 1 nor in_channels input channels needs '
            "stem_init='reinit'.",
            prefix=prefix)
        print_log(
            f'{_OWNER}: loaded the encoder from {checkpoint!r} '
            f'({len(own)} tensors; stem {self.stem_key}: {self.stem_init}).',
            logger='current')

    # ------------------------------------------------------------ network
    def _levels(self, x: Tensor) -> Tuple[Tuple[Tensor, ...], List[Tensor]]:
        """Encoder outputs and the head's logits (all outputs)."""
        feats = self.backbone(x)
        return feats, self.head(self.neck(feats, x))

    def _final_logits(self, x: Tensor) -> Tensor:
        """Prediction logits of one window (the sliding-window predictor)."""
        return self.head.predict_logits(self.neck(self.backbone(x), x))

    def _labels(self, data_samples: Sequence, like: Tensor) -> Tensor:
        labels = []
        for sample in data_samples:
            if 'gt_seg' not in sample:
                raise KeyError(
                    f'{_OWNER}: sample {sample.metainfo.get("case")!r} has '
                    'no gt_seg; the loss needs a label file (seg_path) '
                    'packed by PackMRIInputs.')
            labels.append(sample.gt_seg)
        labels = torch.stack(labels).to(like.device).long()
        if labels.shape[1:] != like.shape[2:]:
            raise ValueError(f'{_OWNER}: labels {tuple(labels.shape[1:])} '
                             f'vs inputs {tuple(like.shape[2:])}.')
        return labels

    def _intensity(self, n: int, device: torch.device
                   ) -> Optional[Tuple[Tensor, Tensor]]:
        """Per-sample shift and scale (None when both are off)."""
        if not (self.intensity_shift or self.intensity_scale):
            return None
        shape = (n, 1, 1, 1, 1)
        shift = (torch.rand(shape) * 2 - 1) * self.intensity_shift
        scale = 1 + (torch.rand(shape) * 2 - 1) * self.intensity_scale
        return shift.to(device), scale.to(device)

    def _augment(self, inputs: Tensor, data_samples: Sequence,
                 intensity: Optional[Tuple[Tensor, Tensor]]) -> Tensor:
        """Template substitution, then intensity shift / scale."""
        if self.template_mix:
            inputs, _ = self.template_sub.substitute(inputs, data_samples)
        if intensity is not None:
            shift, scale = intensity
            inputs = (inputs + shift) * scale
        return inputs

    def _fill(self, inputs: Tensor, data_samples: Optional[Sequence]
              ) -> Tensor:
        if self.fill_missing and data_samples is not None:
            return self.template_sub.fill_missing(inputs, data_samples)
        return inputs

    # ------------------------------------------------------------ modes
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, Tensor], List[DataSample], List[Tensor]]:
        """``'loss'``, ``'predict'`` or ``'tensor'`` (the head's logits of
        every output, no sliding window)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._levels(self._fill(inputs, data_samples))[1]
        raise RuntimeError(f'{_OWNER}: invalid mode {mode!r}.')

    def loss(self, inputs: Tensor,
             data_samples: List[DataSample]) -> Dict[str, Tensor]:
        """Segmentation loss (and the two-view MSE) of a batch of patches.

        Args:
            inputs (Tensor): ``(N, C, D, H, W)``.
            data_samples (list[DataSample]): With ``gt_seg``.

        Returns:
            dict[str, Tensor]: ``loss_seg`` (and ``loss_mse``).
        """
        labels = self._labels(data_samples, inputs)
        inputs = self._fill(inputs, data_samples)
        intensity = self._intensity(inputs.shape[0], inputs.device)
        if self.feature_mse_weight <= 0:
            _, logits = self._levels(
                self._augment(inputs, data_samples, intensity))
            return self.head.loss(logits, labels)
        views = [
            self._levels(self._augment(inputs, data_samples, intensity))
            for _ in range(2)
        ]
        (feats_a, logits_a), (feats_b, logits_b) = views
        logits = [torch.cat([a, b]) for a, b in zip(logits_a, logits_b)]
        losses = self.head.loss(logits, torch.cat([labels, labels]))
        if len(logits_a) > 1:
            a, b = logits_a[0], logits_b[0]
        else:
            a, b = feats_a[-1], feats_b[-1]
        losses['loss_mse'] = self.feature_mse_weight * F.mse_loss(a, b)
        return losses

    @torch.no_grad()
    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Sliding-window prediction of whole volumes.

        Args:
            inputs (Tensor): ``(N, C, D, H, W)``, any size (windows past an
                edge are padded).
            data_samples (list[DataSample], optional): Receive ``pred_seg``.

        Returns:
            list[DataSample]: With ``pred_seg`` ``(D, H, W)`` (int64).
        """
        from monai.inferers import sliding_window_inference
        inputs = self._fill(inputs, data_samples)
        cfg = self.test_cfg
        logits = sliding_window_inference(
            inputs,
            roi_size=cfg['roi_size'],
            sw_batch_size=cfg['sw_batch_size'],
            predictor=self._final_logits,
            overlap=cfg['overlap'],
            mode=cfg['mode'])
        logits = torch.as_tensor(logits)  # MONAI may return a MetaTensor
        labels = self.head.predict(logits)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for sample, label in zip(data_samples, labels):
            sample.set_field(label, 'pred_seg', dtype=torch.Tensor)
        return data_samples
