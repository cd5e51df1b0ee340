# kvasir_mm_views.py at 384 px, for the ViT-B/16 baselines.
_base_ = './kvasir_mm_views.py'
img_size = 384

# Own pipeline: kvasir_mm_views.py's, with the 384 px crop. It is restated
# because mmengine evaluates a base once: an img_size set by a child never
# reaches the pipeline built in its base.
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
    dict(type='ModalitiesAsViews', modalities=('wli', 'nbi')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
