# Online kNN monitor for pre-training (KNNMonitorHook,
# mics_mm/engine/hooks/knn_monitor_hook.py), off unless a config adds it:
# after every `interval`-th epoch (and the last) the weighted kNN top-1 of
# the encoder (k = 20 nearest neighbours by cosine similarity, votes
# exp(sim / 0.07); the pooled features of the WLI images), with the labelled
# train split as memory bank and the val split queried, is logged as
# `knn/top1` (the log, scalars.json, TensorBoard when on). Rank 0 computes
# it in eval mode without gradients, over both splits resized to the
# config's size; the other ranks wait. This file: 224 px on data/kvasir/
# (the ResNet-50 configs); knn_monitor-384px.py (the ViT-B/16 configs) and
# knn_monitor_demo-64px.py (the demo data) beside it.
# Switch it on in a config that inherits a pre-training config, e.g.
#   _base_ = ['./mics_resnet50_8xb32-coslr-100e_kvasir-224px.py',
#             '../_base_/knn_monitor.py']
#   custom_hooks = _base_.custom_hooks + [_base_.knn_monitor]
# (`_base_.x` reads a base's value: custom_hooks is a list, which a child
# replaces rather than extends). Other settings:
#   custom_hooks = _base_.custom_hooks + [dict(_base_.knn_monitor, interval=5)]
# or --cfg-options custom_hooks.N.interval=5 (N: the hook's place in the
# list). Data elsewhere: re-point its loaders too,
# custom_hooks.N.train_dataloader.dataset.data_root=DIR and
# custom_hooks.N.val_dataloader.dataset.data_root=DIR.
# Example: configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-knn-64px.py.
knn_monitor_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[dict(type='Resize', scale=(224, 224))]),
    dict(type='PackMultiModalInputs'),
]
knn_monitor = dict(
    type='KNNMonitorHook',
    interval=10,
    k=20,
    temperature=0.07,
    modality='wli',
    # the labelled memory bank: every training image (the pre-training set)
    train_dataloader=dict(
        batch_size=64,
        num_workers=4,
        dataset=dict(
            type='KvasirDataset',
            data_root='data/kvasir/',
            ann_file='splits/train.json',
            modalities=('wli', 'nbi'),
            test_mode=True,
            pipeline=knn_monitor_pipeline)),
    # queried: the val split (the test split stays unseen)
    val_dataloader=dict(
        batch_size=64,
        num_workers=4,
        dataset=dict(
            type='KvasirDataset',
            data_root='data/kvasir/',
            ann_file='splits/val.json',
            modalities=('wli', 'nbi'),
            test_mode=True,
            pipeline=knn_monitor_pipeline)))
