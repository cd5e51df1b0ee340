# kvasir_mics_finetune.py at 384 px, for the ViT-B/16 encoders.
_base_ = './kvasir_mics_finetune.py'
img_size = 384

# Own pipelines: kvasir_mics_finetune.py's at 384 px, and WITHOUT its
# per-modality colour jitter (the ViT-B/16 fine-tuning has always been
# configured so). Restated because mmengine evaluates a base once: an
# img_size set by a child never reaches the pipelines built in its base.
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
