# kvasir_wli_single.py at 384 px, for the ViT-B/16 MAE: the WLI image alone,
# one view per sample.
_base_ = './kvasir_mm_views-384px.py'

# Own pipeline: the WLI image alone (kvasir_wli_single.py's) instead of the
# two modalities as views, at this base's 384 px.
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
