from . import transforms  # noqa: F401
from .brain_mri import (MODALITY_ALIASES, MRI_MODALITIES, BrainMRIDataset,
                        canonical_modality)
from .brain_mri_slices import BrainMRISliceDataset
from .kvasir import KVASIR_CLASSES, KvasirDataset
from .semi_supervised import SemiSupervisedDataset
from .splits import ScanResult, make_splits, scan_layout

__all__ = [
    'MODALITY_ALIASES', 'MRI_MODALITIES', 'BrainMRIDataset',
    'canonical_modality', 'BrainMRISliceDataset',
    'KVASIR_CLASSES', 'KvasirDataset', 'SemiSupervisedDataset',
    'ScanResult', 'make_splits', 'scan_layout'
]
