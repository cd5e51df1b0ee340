"""mmsegmentation data preprocessor for MRI slices with missing modalities."""
from typing import Any, Dict, Optional

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from ..models.utils import BrainMVPTemplateFiller

__all__ = ['MRISegDataPreprocessor']


@MODELS.register_module()
class MRISegDataPreprocessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` that first fills missing modalities
    from BrainMVP's templates.

    Samples packed by ``PackMRISegInputs`` carry ``modalities``,
    ``missing_modalities`` and their canvas position. Each missing
    channel (zero after ``ArrangeModalities``) takes the template of
    its modality from the BrainMVP checkpoint ``templates``, cropped at the
    slice's position and kept inside the head (docs/methods.md, "BrainMVP decision 6": templates
    substitute missing modalities at fine-tuning); with
    ``templates=None`` it stays zero (training from scratch). Stacking,
    padding and normalisation are then mmseg's. MRI inputs are already in
    [0, 1], so ``mean`` / ``std`` default to none and no channel flip is
    done.

    Args:
        templates (str, optional): BrainMVP checkpoint. Defaults to None.
        templates_key (str): Key of the templates in its state dict.
            Defaults to ``'templates.templates'``.
        **kwargs: Arguments of ``SegDataPreProcessor`` (``size``,
            ``size_divisor``, ``pad_val``, ``seg_pad_val``, ``mean``,
            ``std``, ``test_cfg``).
    """

    def __init__(self,
                 templates: Optional[str] = None,
                 templates_key: str = 'templates.templates',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.filler = BrainMVPTemplateFiller(
            templates, templates_key, owner='MRISegDataPreprocessor')

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Fill missing modalities, then mmseg's preprocessing."""
        data = self.cast_data(data)
        samples = data.get('data_samples')
        if self.filler.source and samples is not None:
            inputs = data['inputs']
            if isinstance(inputs, torch.Tensor):
                inputs = list(inputs)
            data = dict(
                data,
                inputs=[
                    self.filler(x[None].float(), [s])[0]
                    for x, s in zip(inputs, samples)
                ])
        return super().forward(data, training)
