# BrainMVP downstream classification through mmpretrain: ImageClassifier
# with the pre-trained 3D UniFormer-S, global average pooling of the
# deepest feature and a linear head (docs/methods.md, "BrainMVP: downstream": linear/MLP head on
# pooled deepest features). Checkpoint and templates:
# --cfg-options model.backbone.init_cfg.checkpoint=CKPT
# model.data_preprocessor.templates=CKPT
_base_ = [
    '../../_base_/datasets/brats_cls_3d.py',
    '../../_base_/default_runtime.py',
]
pretrained = 'work_dirs/pretrain_brats/epoch_1500.pth'
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(type='MRIDataPreprocessor',
                           templates=pretrained),
    backbone=dict(
        type='UniFormer3D',
        arch='s',
        in_channels=4,
        init_cfg=dict(
            type='InflatedPretrained', checkpoint=pretrained,
            prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling', dim=3),
    head=dict(
        type='LinearClsHead',
        num_classes=2,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
max_epochs = 100
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2))
auto_scale_lr = dict(base_batch_size=32)
