# knn_monitor.py at 384 px, for the ViT-B/16 pre-training configs (that
# file says how to switch the monitor on).
_base_ = './knn_monitor.py'
knn_monitor_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[dict(type='Resize', scale=(384, 384))]),
    dict(type='PackMultiModalInputs'),
]
knn_monitor = dict(
    train_dataloader=dict(dataset=dict(pipeline=knn_monitor_pipeline)),
    val_dataloader=dict(dataset=dict(pipeline=knn_monitor_pipeline)))
