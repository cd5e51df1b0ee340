# kvasir_mics.py on the SYNTHETIC demo stand-in (tools/data/make_demo_kvasir.py)
# at 64 px, for a few minutes on 2 CPU cores: crop ratio (0.5, 1.0), batch
# 32, 2 workers. Re-point it with
#   --cfg-options train_dataloader.dataset.data_root=DIR
_base_ = './kvasir_mics.py'
data_root = 'data/kvasir_demo_synthetic/'
img_size = 64

# Own pipeline: kvasir_mics.py's, with the 64 px crop of at least half the
# image. Restated because mmengine evaluates a base once: an img_size set by
# a child never reaches the pipeline built in its base.
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
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
