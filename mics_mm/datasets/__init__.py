from . import transforms  # noqa: F401
from .brain_mri import BrainMRIDataset
from .brain_mri_slices import BrainMRISliceDataset
from .fashion_mnist import FashionMNISTMultiModal
from .kvasir import KvasirDataset
from .semi_supervised import SemiSupervisedDataset
from .seeded_sampler import (SeededIndex, SeededInfiniteSampler,
                             SeededSampler)
from .layouts import ScanResult, scan_layout
from .splits import make_splits

__all__ = [
    'BrainMRIDataset', 'BrainMRISliceDataset', 'KvasirDataset',
    'FashionMNISTMultiModal',
    'SemiSupervisedDataset', 'ScanResult', 'make_splits', 'scan_layout',
    'SeededIndex', 'SeededSampler', 'SeededInfiniteSampler'
]
