"""Labelled samples, each with unlabelled weak / strong views attached."""
import copy
from typing import List, Sequence

import numpy as np
import torch
from mmengine.dataset import Compose

from mics_mm.registry import DATASETS


@DATASETS.register_module()
class SemiSupervisedDataset:
    """Mix labelled and unlabelled samples for semi-supervised fine-tuning.

    Item ``i`` is labelled sample ``i`` (packed by the labelled dataset's
    pipeline) plus, under ``'unlabeled'``, ``unlabeled_ratio`` samples drawn
    at random from the unlabelled dataset, each in a *weak* and a *strong*
    view (FixMatch's recipe; docs/methods.md, "MICS decision 8"):
    ``{'weak': {modality: (mu, C, H, W) uint8}, 'strong': {...}}``. A batch of
    ``B`` items therefore holds ``B`` labelled and ``B * unlabeled_ratio``
    unlabelled samples. One epoch is one pass over the labelled set.

    The unlabelled dataset's own pipeline loads the images (and simulates
    NBI); ``weak_pipeline`` and ``strong_pipeline`` are then applied to a
    copy each and must end with ``PackMultiModalInputs``. The random
    draw uses NumPy's global generator, which mmengine seeds per worker.

    Args:
        labeled (dict): Config of the labelled dataset (e.g.
            ``KvasirDataset`` on ``splits/train_labeled_10pct.json``).
        unlabeled (dict): Config of the unlabelled dataset (the rest of
            train: ``splits/train_unlabeled_10pct.json``).
        weak_pipeline (list[dict]): Weak augmentation + packing.
        strong_pipeline (list[dict]): Strong augmentation + packing.
        unlabeled_ratio (int): Unlabelled samples per labelled one (FixMatch's
            mu). Defaults to 1.
    """

    def __init__(self,
                 labeled: dict,
                 unlabeled: dict,
                 weak_pipeline: Sequence[dict],
                 strong_pipeline: Sequence[dict],
                 unlabeled_ratio: int = 1) -> None:
        if unlabeled_ratio < 1:
            raise ValueError('SemiSupervisedDataset: unlabeled_ratio must '
                             f'be >= 1, got {unlabeled_ratio}.')
        self.labeled = DATASETS.build(labeled)
        self.unlabeled = DATASETS.build(unlabeled)
        if len(self.unlabeled) == 0:
            raise ValueError('SemiSupervisedDataset: the unlabelled '
                             'dataset is empty; use the supervised config.')
        self.weak = Compose(weak_pipeline)
        self.strong = Compose(strong_pipeline)
        self.unlabeled_ratio = unlabeled_ratio

    @property
    def metainfo(self) -> dict:
        """Meta information of the labelled dataset (classes, ...)."""
        return self.labeled.metainfo

    def __len__(self) -> int:
        return len(self.labeled)

    def _views(self, index: int) -> List[dict]:
        results = self.unlabeled[index]
        return [
            pipeline(copy.deepcopy(results))['inputs']
            for pipeline in (self.weak, self.strong)
        ]

    def __getitem__(self, index: int) -> dict:
        item = self.labeled[index]
        picks = np.random.randint(len(self.unlabeled),
                                  size=self.unlabeled_ratio)
        views = [self._views(int(j)) for j in picks]
        item['unlabeled'] = {
            name: {
                m: torch.stack([v[k][m] for v in views])
                for m in views[0][k]
            }
            for k, name in enumerate(('weak', 'strong'))
        }
        return item

    def get_data_info(self, index: int) -> dict:
        return self.labeled.get_data_info(index)

    def full_init(self) -> None:
        self.labeled.full_init()
        self.unlabeled.full_init()

