# knn_monitor.py on the SYNTHETIC demo data at 64 px, every 5 epochs, for
# the demo pre-training configs (knn_monitor.py says how to switch the
# monitor on; configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-knn-64px.py
# does).
_base_ = './knn_monitor.py'
knn_monitor_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[dict(type='Resize', scale=(64, 64))]),
    dict(type='PackMultiModalInputs'),
]
knn_monitor = dict(
    interval=5,
    train_dataloader=dict(
        batch_size=32,
        num_workers=0,
        dataset=dict(
            data_root='data/kvasir_demo_synthetic/',
            pipeline=knn_monitor_pipeline)),
    val_dataloader=dict(
        batch_size=32,
        num_workers=0,
        dataset=dict(
            data_root='data/kvasir_demo_synthetic/',
            pipeline=knn_monitor_pipeline)))
