# kvasir_mm_views.py on the SYNTHETIC demo data with the settings of
# kvasir_mics_demo-64px.py (64 px, crop ratio (0.5, 1.0), batch 32, 2
# workers), so that the demo baselines see what the MICS demo sees.
_base_ = './kvasir_mm_views.py'
data_root = 'data/kvasir_demo_synthetic/'
img_size = 64

# Own pipeline: kvasir_mm_views.py's, with the 64 px crop of at least half
# the image. Restated because mmengine evaluates a base once: an img_size
# set by a child never reaches the pipeline built in its base.
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
    {{_base_.photometric_transforms}},
    dict(type='ModalitiesAsViews', modalities=('wli', 'nbi')),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
