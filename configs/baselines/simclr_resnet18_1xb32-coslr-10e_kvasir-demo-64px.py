# SimCLR on the SYNTHETIC demo data, matched to the MICS demo
# (configs/mics/pretrain_kvasir_demo.py): ResNet-18, 64 px, the same
# pipeline (WLI / simulated NBI as the two views), split, batch 32, 10
# epochs, AdamW schedule. tools/benchmark/label_efficiency.py uses it.
# Not inherited through `mmpretrain::`: mmpretrain has no model-only SimCLR
# config, see ../_base_/models/simclr_resnet50.py.
_base_ = [
    '../_base_/models/simclr_resnet50.py',
    '../_base_/datasets/kvasir_mm_views_demo-64px.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=512))
# The MICS demo schedule, so that only the method differs.
max_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=5, max_keep_ckpts=2))
custom_hooks = [dict(type='RandomStateHook')]
log_processor = dict(window_size=1)
auto_scale_lr = dict(base_batch_size=256)
