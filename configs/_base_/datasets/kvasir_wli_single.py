# Kvasir WLI images, one view per sample, for mmpretrain's MAE: the MICS
# loading, crop and flip on the WLI image alone, normalised like MICS.
_base_ = ['./kvasir_mm_views.py']
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SelectModality', modality='wli'),
    dict(
        type='RandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
