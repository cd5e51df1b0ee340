"""A data preprocessor that hands every view of a multi-view sample to a
single-view algorithm as a sample of its own."""
from typing import Optional

import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mics_mm.registry import MODELS


@MODELS.register_module()
class ViewsAsBatchDataPreprocessor(SelfSupDataPreprocessor):
    """mmpretrain's ``SelfSupDataPreprocessor``, then the views stacked along
    the batch: ``B`` samples of ``V`` views become ``V * B`` images, view
    by view (all first views, then all second views); each data sample is
    repeated alongside.

    With ``ModalitiesAsViews`` this lets an algorithm that takes one
    image per sample (mmpretrain's MAE) pre-train on both modalities of
    every Kvasir pair, so that it sees as many images per iteration as the
    two-view methods (SimCLR, MoCo v3, BYOL, MICS) at the same batch size:
    the equal budget (iterations and images seen) of the label-efficiency
    benchmark. The algorithm is unchanged; the two modalities of a pair are
    independent samples to it. With single-view input it changes nothing.

    Args: as ``SelfSupDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        out = super().forward(data, training)
        inputs, samples = out['inputs'], out['data_samples']
        if not isinstance(inputs, (list, tuple)):
            return out
        views = len(inputs)
        shapes = {tuple(v.shape[1:]) for v in inputs}
        if len(shapes) > 1:
            raise ValueError(
                'ViewsAsBatchDataPreprocessor: the views of a sample '
                f'must have one shape to share a batch, got {sorted(shapes)}; '
                'resize or crop them to one size in the pipeline.')
        merged: Optional[list] = None
        if samples is not None:
            merged = list(samples) * views
        return dict(inputs=torch.cat(list(inputs), dim=0),
                    data_samples=merged)
