# Fine-tuning that `make demo` runs: ResNet-18 encoders at 64 px on the
# SYNTHETIC demo data, 10 % of the labels, from the demo's pre-training
# checkpoint (--cfg-options model.pretrained=...; None = from scratch).
# The ResNet-50 fine-tuning config's model, schedule and runtime on the demo
# data (batch 8), 30 epochs.
_base_ = [
    '../../_base_/models/mics_finetune_resnet50.py',
    '../../_base_/datasets/kvasir_mics_finetune_demo-64px.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-50e.py',
    '../../_base_/default_runtime.py',
]

max_epochs = 30

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, embed_dims=128, num_heads=4),
    head=dict(in_channels=128))

optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=10, max_keep_ckpts=1,
                                     save_best='accuracy', rule='greater'))
