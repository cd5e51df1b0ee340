from .brats_metric import BraTSMetric
from .metrics import ClsReportMetric, binary_roc_auc
from .visualization import save_confusion_matrix_png

__all__ = [
    'BraTSMetric', 'ClsReportMetric', 'binary_roc_auc',
    'save_confusion_matrix_png'
]
