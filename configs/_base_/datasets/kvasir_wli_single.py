# Kvasir WLI images, one view per sample, for a single-image method such as
# mmpretrain's MAE: the MICS loading, crop and flip on the WLI image alone,
# normalised like MICS, at 224 px. The MAE configs use its 384 px and demo
# variants (kvasir_wli_single-384px.py, kvasir_wli_single_demo-64px.py).
_base_ = ['./kvasir_mm_views.py']
# Own pipeline: the WLI image alone (no simulated NBI, no colour jitter),
# one view per sample.
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
