# kvasir_wli_single.py on the SYNTHETIC demo data (64 px, crop ratio
# (0.5, 1.0), batch 32, 2 workers; see kvasir_mm_views_demo-64px.py): the
# WLI image alone, one view per sample, for the demo MAE.
_base_ = './kvasir_mm_views_demo-64px.py'

# Own pipeline: the WLI image alone (kvasir_wli_single.py's) instead of the
# two modalities as views, at this base's 64 px.
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
