"""Multimodal classifier for MICS fine-tuning (docs/methods.md, "MICS decision 8" and "9")."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

from mmpretrain.models.classifiers import BaseClassifier
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

from ...utils.checkpoint_io import read_checkpoint
from ..utils import global_feature, load_matching_weights


@MODELS.register_module()
class MICSMultiModalClassifier(BaseClassifier):
    """One encoder per modality, a fusion neck and a classification head.

    MICS fine-tuning (docs/methods.md, "MICS: fine-tuning", decisions 8 and 9): each
    modality has its own encoder (any mmpretrain backbone), initialised from
    the shared encoder of a MICS pre-training checkpoint (``pretrained``;
    keys under ``pretrained_prefix``, ``'backbone.'`` by default, or
    ``'momentum_encoder.module.0.'`` for the momentum encoder). The last
    stage of each encoder, pooled (class token of a ViT, average of a CNN
    map), goes to the fusion neck (``MICSFusionNeck``) and
    the fused feature to ``head`` (e.g. ``MICSDistShiftHead``); optional
    ``aux_head`` adds a classifier on each modality's own feature.

    Prediction works with any non-empty subset of the modalities: give only
    those in ``inputs``, or set ``test_modalities`` (e.g. ``('wli',)``) to
    drop the others at test time. ``modality_dropout`` trains for that: with
    this probability a batch loses one randomly chosen modality (never the
    last one). Our choice: the paper does not say how it handles a missing
    modality.

    Semi-supervised training (docs/methods.md, "MICS decision 8", FixMatch's rule): when
    the batch carries unlabelled samples (``SemiSupervisedDataset``) and
    ``semi_supervised`` is set, the model's prediction on the *weak* view
    (no gradient) gives a pseudo-label wherever its confidence reaches
    ``threshold``, and the *strong* view is trained on it:
    ``loss_unsup = weight * mean_i(1[max p_i >= threshold] * CE(strong_i,
    argmax p_i))``. The fraction of unlabelled samples that pass is logged as
    ``unsup_pass_ratio``.

    Args:
        backbone (dict): Encoder config, built once per modality.
        neck (dict): Fusion neck config; ``modalities`` is filled in.
        head (dict): Classification head on the fused feature.
        modalities (Sequence[str]): Modality names. Defaults to
            ('wli', 'nbi').
        aux_head (dict, optional): Head applied to each modality's pooled
            feature (one copy per modality); losses are logged as
            ``aux_<modality>.<name>``. Defaults to None.
        pretrained (str, optional): MICS pre-training checkpoint. A missing
            file, or one without every encoder weight, raises an error that
            names it. Defaults to None (random initialisation).
        pretrained_prefix (str): Key prefix of the encoder in the
            checkpoint. Defaults to 'backbone.'.
        modality_dropout (float): Probability of dropping one modality from a
            training batch. Defaults to 0.
        test_modalities (Sequence[str], optional): Modalities used by
            ``predict``; None uses every modality in the batch.
        semi_supervised (dict, optional): ``dict(threshold=0.95,
            weight=1.0)``; None ignores unlabelled samples. Defaults to None.
        freeze_encoders (bool): Linear-probe protocol: the encoders get no
            gradient and stay in eval mode (BN statistics frozen); only the
            fusion neck and the heads train. Defaults to False.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='PerModalityDataPreprocessor')``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 modalities: Sequence[str] = ('wli', 'nbi'),
                 aux_head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 pretrained_prefix: str = 'backbone.',
                 modality_dropout: float = 0.0,
                 test_modalities: Optional[Sequence[str]] = None,
                 semi_supervised: Optional[dict] = None,
                 freeze_encoders: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='PerModalityDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.modalities = tuple(modalities)
        if not self.modalities or len(set(self.modalities)) != len(
                self.modalities):
            raise ValueError('MICSMultiModalClassifier: `modalities` must be '
                             f'distinct names, got {self.modalities}.')
        unknown = set(test_modalities or ()) - set(self.modalities)
        if unknown:
            raise ValueError(
                f'MICSMultiModalClassifier: test_modalities {sorted(unknown)}'
                f' are not among the model modalities {self.modalities}.')
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError('MICSMultiModalClassifier: modality_dropout must '
                             f'be in [0, 1), got {modality_dropout}.')
        self.backbones = nn.ModuleDict(
            {m: MODELS.build(backbone)
             for m in self.modalities})
        neck = dict(neck)
        neck.setdefault('modalities', self.modalities)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(head)
        self.aux_heads = nn.ModuleDict({
            m: MODELS.build(aux_head)
            for m in self.modalities
        }) if aux_head else None
        self.pretrained = pretrained
        self.pretrained_prefix = pretrained_prefix
        self.modality_dropout = modality_dropout
        self.test_modalities = tuple(
            test_modalities) if test_modalities else None
        self.pretrain_report: Optional[dict] = None
        self.semi = None
        if semi_supervised is not None:
            unknown = set(semi_supervised) - {'threshold', 'weight'}
            if unknown:
                raise KeyError('MICSMultiModalClassifier: unknown '
                               f'semi_supervised keys {sorted(unknown)}; '
                               "valid: 'threshold', 'weight'.")
            self.semi = dict(threshold=0.95, weight=1.0)
            self.semi.update(semi_supervised)
        self.freeze_encoders = freeze_encoders
        if freeze_encoders:
            self.backbones.requires_grad_(False)

    def train(self, mode: bool = True) -> 'MICSMultiModalClassifier':
        """Set the training mode; frozen encoders stay in eval mode."""
        super().train(mode)
        if self.freeze_encoders:
            self.backbones.eval()
        return self

    def init_weights(self) -> None:
        """Random init, then the encoders from ``pretrained`` if given."""
        super().init_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, checkpoint: str) -> dict:
        """Copy the pre-trained encoder into every modality's encoder.

        Args:
            checkpoint (str): Path of a MICS pre-training checkpoint.

        Returns:
            dict: ``checkpoint``, ``loaded`` (number of tensors per
            modality), ``unexpected`` (checkpoint encoder keys the encoder
            does not have, e.g. ``mask_token``); also kept as
            ``self.pretrain_report``.
        """
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'MICSMultiModalClassifier: pre-training checkpoint '
                f'{checkpoint!r} not found. Pre-train first (python '
                'tools/train.py configs/mics/pretrain_kvasir.py) and set '
                '--cfg-options model.pretrained=<work_dir>/epoch_N.pth, or '
                'model.pretrained=None to train from scratch.')
        ckpt = read_checkpoint(checkpoint)
        state = ckpt.get('state_dict', ckpt)
        prefix = self.pretrained_prefix
        encoder = {
            k[len(prefix):]: v
            for k, v in state.items() if k.startswith(prefix)
        }
        if not encoder:
            raise ValueError(
                f'MICSMultiModalClassifier: {checkpoint!r} has no weights '
                f'under {prefix!r}; is it a MICS pre-training checkpoint? '
                '(set model.pretrained_prefix if the encoder is elsewhere)')
        loaded = {}
        unexpected: List[str] = []
        for name, backbone in self.backbones.items():
            unexpected = load_matching_weights(
                backbone, encoder, checkpoint,
                f'the MICSMultiModalClassifier {name!r} encoder',
                hint='Use the same backbone (depth, width, image size) as '
                'in pre-training.',
                prefix=prefix)
            loaded[name] = len(backbone.state_dict())
        self.pretrain_report = dict(
            checkpoint=checkpoint, loaded=loaded, unexpected=unexpected)
        print_log(
            f'MICSMultiModalClassifier: loaded {loaded} encoder tensors '
            f'from {checkpoint} (ignored: {unexpected[:5]})',
            logger='current')
        return self.pretrain_report

    def _present(self, inputs: Dict[str, torch.Tensor],
                 modalities: Optional[Sequence[str]]) -> List[str]:
        names = [m for m in (modalities or self.modalities) if m in inputs]
        unknown = set(inputs) - set(self.modalities)
        if unknown:
            raise KeyError(f'MICSMultiModalClassifier: unknown modalities '
                           f'{sorted(unknown)} (model has {self.modalities}).')
        if not names:
            raise ValueError('MICSMultiModalClassifier: no modality to '
                             f'predict from (inputs have {sorted(inputs)}).')
        return names

    def _encode(self, inputs: Dict[str, torch.Tensor],
                names: Sequence[str]) -> Dict[str, torch.Tensor]:
        return {
            m: global_feature(self.backbones[m](inputs[m])[-1])
            for m in names
        }

    def extract_feat(self,
                     inputs: Dict[str, torch.Tensor],
                     modalities: Optional[Sequence[str]] = None):
        """Fused feature (a 1-tuple) of the present modalities."""
        names = self._present(inputs, modalities)
        return self.neck(self._encode(inputs, names))

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor',
                unlabeled: Optional[dict] = None):
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'loss':
            return self.loss(inputs, data_samples, unlabeled)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self,
             inputs: Dict[str, torch.Tensor],
             data_samples: List[DataSample],
             unlabeled: Optional[dict] = None) -> dict:
        names = self._present(inputs, None)
        if self.modality_dropout and len(names) > 1 and float(
                torch.rand(())) < self.modality_dropout:
            drop = int(torch.randint(len(names), ()))
            names = names[:drop] + names[drop + 1:]
        feats = self._encode(inputs, names)
        losses = self.head.loss(self.neck(feats), data_samples)
        if self.aux_heads is not None:
            for m in names:
                aux = self.aux_heads[m].loss((feats[m], ), data_samples)
                losses.update({f'aux_{m}.{k}': v for k, v in aux.items()})
        if unlabeled is not None and self.semi is not None:
            losses.update(self.unsupervised_loss(unlabeled['weak'],
                                                 unlabeled['strong'], names))
        return losses

    def unsupervised_loss(self, weak: Dict[str, torch.Tensor],
                          strong: Dict[str, torch.Tensor],
                          names: Sequence[str]) -> dict:
        """Pseudo-labels from the weak view train the strong view."""
        with torch.no_grad():
            logits = self.head(self.neck(self._encode(weak, names)))
            conf, pseudo = logits.softmax(dim=1).max(dim=1)
            mask = (conf >= self.semi['threshold']).float()
        strong_logits = self.head(self.neck(self._encode(strong, names)))
        per_sample = F.cross_entropy(strong_logits, pseudo, reduction='none')
        return dict(
            loss_unsup=self.semi['weight'] * (per_sample * mask).mean(),
            unsup_pass_ratio=mask.mean())

    def predict(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        feats = self.extract_feat(inputs, self.test_modalities)
        return self.head.predict(feats, data_samples, **kwargs)
