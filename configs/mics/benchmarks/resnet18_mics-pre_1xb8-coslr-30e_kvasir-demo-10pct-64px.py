# Fine-tuning that `make demo` runs: ResNet-18 encoders at 64 px on the
# SYNTHETIC demo data, 10 % of the labels, from the demo's pre-training
# checkpoint (--cfg-options model.pretrained=...; None = from scratch).
_base_ = './resnet50_mics-pre_8xb32-coslr-50e_kvasir-10pct-224px.py'

data_root = 'data/kvasir_demo_synthetic/'
img_size = 64
max_epochs = 30

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, embed_dims=128, num_heads=4),
    head=dict(in_channels=128))

train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[
            dict(
                type='RandomResizedCrop',
                scale=img_size,
                crop_ratio_range=(0.5, 1.0)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    dict(type='PackMultiModalInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[dict(type='Resize', scale=(img_size, img_size))]),
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))

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
    logger=dict(interval=5), checkpoint=dict(interval=10, max_keep_ckpts=1))
