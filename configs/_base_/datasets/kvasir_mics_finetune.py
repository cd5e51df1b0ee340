# Kvasir for MICS fine-tuning: the labelled subset of train (split files of
# tools/data/make_splits.py), val and test. Change the labelled fraction with
#   --cfg-options train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
# Data root, modalities and per-modality normalisation come from the
# pre-training data config.
_base_ = './kvasir_mics.py'
img_size = 224

# Own pipelines: the fine-tuning crop (at least half the image) and a
# milder per-modality colour jitter than pre-training's; a plain resize for
# validation / test.
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
    dict(
        type='PerModalityTransforms',
        transforms=[
            dict(
                type='RandomApply',
                transforms=[
                    dict(
                        type='ColorJitter',
                        brightness=0.2,
                        contrast=0.2,
                        saturation=0.1)
                ],
                prob=0.5),
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
    dataset=dict(
        ann_file='splits/train_labeled_10pct.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        ann_file='splits/val.json',
        modalities={{_base_.modalities}},
        test_mode=True,
        pipeline=test_pipeline))
# The same loader on the held-out test split.
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='splits/test.json'))
val_evaluator = dict(type='ClsReportMetric')
test_evaluator = val_evaluator
