from . import transforms  # noqa: F401
from .kvasir import KVASIR_CLASSES, MicsKvasirDataset
from .splits import ScanResult, make_splits, scan_layout

__all__ = [
    'KVASIR_CLASSES', 'MicsKvasirDataset', 'ScanResult', 'make_splits',
    'scan_layout'
]
