from . import transforms  # noqa: F401
from .brain_mri import BrainMRIDataset
from .brain_mri_slices import BrainMRISliceDataset
from .kvasir import KvasirDataset
from .semi_supervised import SemiSupervisedDataset
from .splits import ScanResult, make_splits, scan_layout

__all__ = [
    'BrainMRIDataset', 'BrainMRISliceDataset', 'KvasirDataset',
    'SemiSupervisedDataset', 'ScanResult', 'make_splits', 'scan_layout'
]
