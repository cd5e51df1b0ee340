# MICS pre-training, ViT-B/16 at 384 px on Kvasir (8 GPUs x 32).
_base_ = [
    '../_base_/models/mics_vit-base-p16.py',
    '../_base_/datasets/kvasir_mics.py',
    '../_base_/schedules/mics_adamw-coslr-100e.py',
    '../_base_/default_runtime.py',
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
                crop_ratio_range=(0.2, 1.0)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    {{_base_.photometric_transforms}},
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
