from . import transforms  # noqa: F401
from .kvasir import KVASIR_CLASSES, MicsKvasirDataset
from .semi_supervised import MicsSemiSupervisedDataset
from .splits import ScanResult, make_splits, scan_layout

__all__ = [
    'KVASIR_CLASSES', 'MicsKvasirDataset', 'MicsSemiSupervisedDataset',
    'ScanResult', 'make_splits', 'scan_layout'
]
