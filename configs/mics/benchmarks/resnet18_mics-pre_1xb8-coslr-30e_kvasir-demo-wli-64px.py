# Single-modality baseline: mmpretrain's own ImageClassifier on WLI images,
# its ResNet-18 loading the MICS pre-trained encoder
# (--cfg-options model.backbone.init_cfg.checkpoint=<pretrain>.pth).
_base_ = './resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py'

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=18,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/pretrain_kvasir_demo/epoch_10.pth',
            prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=8,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(
    _delete_=True,
    type='ClsDataPreprocessor',
    num_classes=8,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
custom_hooks = [dict(type='RandomStateHook')]

# Own pipelines: the WLI image alone, packed for mmpretrain's
# ImageClassifier (PackInputs), at the demo data's size; no simulated NBI.
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SelectModality', modality='wli'),
    dict(
        type='RandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SelectModality', modality='wli'),
    dict(type='Resize', scale=({{_base_.img_size}}, {{_base_.img_size}})),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(modalities=('wli', ), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(modalities=('wli', ), pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(modalities=('wli', ), pipeline=test_pipeline))
