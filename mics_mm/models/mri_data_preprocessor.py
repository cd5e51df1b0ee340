"""Data preprocessor for downstream MRI models (2D slices, 3D patches)."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mics_mm.registry import MODELS
from .utils import BrainMVPTemplateFiller


@MODELS.register_module()
class MRIDataPreprocessor(BaseDataPreprocessor):
    """Stack MRI inputs, fill missing modalities from BrainMVP templates and
    optionally normalise per channel.

    For mmpretrain's classifiers (``ImageClassifier`` on 2D slices or 3D
    patches) fed by ``PackMRIInputs``. Inputs are already percentile
    normalised to [0, 1] by the transforms, so ``mean`` / ``std`` default
    to none. A channel listed in a sample's ``missing_modalities``
    (``ArrangeModalities``) takes the template of its modality from
    the BrainMVP checkpoint ``templates``, cropped at the sample's canvas
    position (docs/methods.md, "BrainMVP decision 6": templates substitute missing modalities at
    fine-tuning); without ``templates`` it stays zero.

    Args:
        templates (str, optional): BrainMVP checkpoint with templates.
            Defaults to None (zeros).
        templates_key (str): State-dict key of the templates. Defaults to
            ``'templates.templates'``.
        mean (Sequence[float], optional): Per-channel mean. Defaults to None.
        std (Sequence[float], optional): Per-channel std. Defaults to None.
        non_blocking (bool): Asynchronous device copy. Defaults to False.
        batch_augments (dict, optional): What mmpretrain's
            ``ImageClassifier`` passes from its ``train_cfg``; batch
            augmentations (Mixup, CutMix) are not supported for MRI and
            raise. Defaults to None.
    """

    def __init__(self,
                 templates: Optional[str] = None,
                 templates_key: str = 'templates.templates',
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 non_blocking: bool = False,
                 batch_augments: Optional[dict] = None) -> None:
        super().__init__(non_blocking=non_blocking)
        if batch_augments:
            raise ValueError(
                'MRIDataPreprocessor: batch augmentations '
                f'({batch_augments}) are not supported for MRI inputs; '
                'remove train_cfg.augments from the model config.')
        if (mean is None) != (std is None):
            raise ValueError('MRIDataPreprocessor: give both `mean` and '
                             '`std`, or neither.')
        self.filler = BrainMVPTemplateFiller(
            templates, templates_key, owner='MRIDataPreprocessor')
        self._normalize = mean is not None
        if self._normalize:
            self.register_buffer('mean', torch.tensor(mean).float(), False)
            self.register_buffer('std', torch.tensor(std).float(), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack, cast, fill and normalise one collated batch.

        Args:
            data (dict): ``{'inputs': list | Tensor, 'data_samples': list}``.
            training (bool): Unused.

        Returns:
            dict: ``inputs`` as a float ``(N, C, *spatial)`` tensor.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        inputs = inputs.float()
        samples = data.get('data_samples')
        inputs = self.filler(inputs, samples)
        if self._normalize:
            shape = (1, -1) + (1, ) * (inputs.dim() - 2)
            inputs = (inputs - self.mean.view(shape)) / self.std.view(shape)
        return dict(inputs=inputs, data_samples=samples)
