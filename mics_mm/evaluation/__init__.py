from .brats_metric import BraTSMetric
from .knn import extract_knn_features, knn_accuracy, knn_classify
from .linear_probe import fit_linear_probe, linear_probe_accuracy
from .metrics import ClsReportMetric, binary_roc_auc
from .visualization import save_confusion_matrix_png

__all__ = [
    'BraTSMetric', 'ClsReportMetric', 'binary_roc_auc',
    'save_confusion_matrix_png', 'knn_classify', 'knn_accuracy',
    'extract_knn_features', 'fit_linear_probe', 'linear_probe_accuracy'
]
