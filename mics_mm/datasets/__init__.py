from . import transforms  # noqa: F401
from .brain_mri import (MODALITY_ALIASES, MRI_MODALITIES, MicsBrainMRIDataset,
                        canonical_modality)
from .brain_mri_slices import MicsBrainMRISliceDataset
from .kvasir import KVASIR_CLASSES, MicsKvasirDataset
from .semi_supervised import MicsSemiSupervisedDataset
from .splits import ScanResult, make_splits, scan_layout

__all__ = [
    'MODALITY_ALIASES', 'MRI_MODALITIES', 'MicsBrainMRIDataset',
    'canonical_modality', 'MicsBrainMRISliceDataset',
    'KVASIR_CLASSES', 'MicsKvasirDataset', 'MicsSemiSupervisedDataset',
    'ScanResult', 'make_splits', 'scan_layout'
]
