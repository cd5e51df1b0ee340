# Fashion-MNIST fine-tuning data for the learning check
# (tools/benchmark/fashion_mnist_check.py): a class-balanced 1 % of the
# training images (600, `fraction`, drawn with `subset_seed`) as the
# labelled set, each with its gradient-magnitude modality; validation and
# test on the 10,000 test images (the check reads the final model's test
# accuracy; no checkpoint is chosen on them).
_base_ = './fashion_mnist_pairs-32px.py'

# No augmentation: each modality resized to 32 px, as at test time. The
# Kvasir fine-tuning augmentation (crop of 50-100 % of the image, flip,
# colour jitter; kvasir_mics_finetune.py) lowered the test accuracy of
# every encoder, pre-trained or not, on these 28 px images: the before /
# after is in docs/benchmarks.md ("Fashion-MNIST: the fine-tuning
# recipe"); ..._fashion-mnist-1pct-kvasir-aug-32px.py keeps the augmented
# pipeline.
train_pipeline = [
    dict(type='GradientMagnitude', src='image', dst='gradient'),
    dict(
        type='SharedModalityTransforms',
        transforms=[dict(type='Resize', scale=({{_base_.img_size}},
                                               {{_base_.img_size}}))]),
    dict(type='PackMultiModalInputs'),
]
# Kvasir's fine-tuning augmentation at 32 px (the "before").
augmented_train_pipeline = [
    dict(type='GradientMagnitude', src='image', dst='gradient'),
    dict(
        type='SharedModalityTransforms',
        transforms=[
            dict(type='RandomResizedCrop', scale={{_base_.img_size}},
                 crop_ratio_range=(0.5, 1.0)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    dict(
        type='PerModalityTransforms',
        transforms=[
            dict(
                type='RandomApply',
                transforms=[dict(type='ColorJitter', brightness=0.2,
                                 contrast=0.2)],
                prob=0.5),
        ]),
    dict(type='PackMultiModalInputs'),
]
test_pipeline = [
    dict(type='GradientMagnitude', src='image', dst='gradient'),
    dict(
        type='SharedModalityTransforms',
        transforms=[dict(type='Resize', scale=({{_base_.img_size}},
                                               {{_base_.img_size}}))]),
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    batch_size=32,
    dataset=dict(fraction=0.01, subset_seed=0, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        split='test',
        modalities={{_base_.modalities}},
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsReportMetric')
test_evaluator = val_evaluator
