# kvasir_mics_finetune.py on the SYNTHETIC demo data at 64 px: batch 8 for
# training, 32 for validation / test, 2 workers, 10 % of the labels (the
# split file of the base).
_base_ = './kvasir_mics_finetune.py'
data_root = 'data/kvasir_demo_synthetic/'
img_size = 64

# Own pipelines: kvasir_mics_finetune.py's at 64 px, and WITHOUT its
# per-modality colour jitter (as kvasir_mics_finetune-384px.py; the demo
# fine-tuning has always been configured so). Restated because mmengine
# evaluates a base once: an img_size set by a child never reaches the
# pipelines built in its base.
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
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
