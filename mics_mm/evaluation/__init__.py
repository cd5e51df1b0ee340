from .metrics import MicsClsMetric, binary_roc_auc
from .visualization import save_confusion_matrix_png

__all__ = ['MicsClsMetric', 'binary_roc_auc', 'save_confusion_matrix_png']
