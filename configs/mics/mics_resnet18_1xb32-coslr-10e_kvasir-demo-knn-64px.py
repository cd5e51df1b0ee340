# The `make demo` pre-training (mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py,
# SYNTHETIC demo data) with the online kNN monitor on
# (../_base_/knn_monitor_demo-64px.py): after epochs 5 and 10 the weighted
# kNN top-1 (k = 20, cosine, T = 0.07) of the WLI features, train split as
# memory bank, val split queried, is logged as knn/top1. The example of
# switching the monitor on in any pre-training config:
_base_ = [
    './mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
    '../_base_/knn_monitor_demo-64px.py',
]
custom_hooks = _base_.custom_hooks + [_base_.knn_monitor]
