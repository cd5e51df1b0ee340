# SimCLR on Fashion-MNIST for the learning check
# (tools/benchmark/fashion_mnist_check.py, docs/benchmarks.md), matched to
# configs/mics/mics_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py:
# the same half-width ResNet-18 (BN), the same pairs (image, gradient
# magnitude) as the two views, batch 128, 100 iterations, AdamW lr 1e-3
# with a 10-iteration warm-up and a cosine decay; only the method differs.
# Not inherited through `mmpretrain::`: mmpretrain has no model-only SimCLR
# config, see ../_base_/models/simclr_resnet50.py.
_base_ = [
    '../_base_/models/simclr_resnet50.py',
    '../_base_/datasets/fashion_mnist_views-32px.py',
    '../_base_/default_runtime_iter.py',
]
max_iters = 100
warmup_iters = 10

model = dict(
    backbone=dict(depth=18, base_channels=32, stem_channels=32,
                  norm_cfg=dict(type='BN')),
    neck=dict(in_channels=256, hid_channels=512))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
custom_hooks = [dict(type='RandomStateHook')]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
log_processor = dict(window_size=25)
auto_scale_lr = dict(base_batch_size=256)
