# Fine-tune a MICS ViT-B/16 encoder on Kvasir with 10 % of the labels:
#   --cfg-options model.pretrained=work_dirs/<pretrain>/epoch_100.pth
_base_ = [
    '../../_base_/models/mics_finetune_vit-base-p16.py',
    '../../_base_/datasets/kvasir_mics_finetune.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-50e.py',
    '../../_base_/default_runtime.py',
]
img_size = 384
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
