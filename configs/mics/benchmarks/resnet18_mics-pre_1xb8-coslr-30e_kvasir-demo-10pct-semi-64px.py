# Semi-supervised fine-tuning on the SYNTHETIC demo data: 10 % labelled,
# the rest of train unlabelled (FixMatch's rule, docs/methods.md, "MICS decision 8").
# Change the fraction with BOTH split files, e.g.
#   train_dataloader.dataset.labeled.ann_file=splits/train_labeled_5pct.json
#   train_dataloader.dataset.unlabeled.ann_file=splits/train_unlabeled_5pct.json
_base_ = './resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py'

model = dict(semi_supervised=dict(threshold=0.95, weight=1.0))

shared_geometry = dict(
    type='SharedModalityTransforms',
    transforms=[
        dict(
            type='RandomResizedCrop',
            scale={{_base_.img_size}},
            crop_ratio_range=(0.5, 1.0)),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ])
weak_pipeline = [shared_geometry, dict(type='PackMultiModalInputs')]
strong_pipeline = [
    shared_geometry,
    dict(
        type='PerModalityTransforms',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1),
            dict(type='RandomGrayscale', prob=0.2, keep_channels=True),
        ]),
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='SemiSupervisedDataset',
        labeled=dict(
            type='KvasirDataset',
            data_root={{_base_.data_root}},
            ann_file='splits/train_labeled_10pct.json',
            pipeline={{_base_.train_pipeline}}),
        unlabeled=dict(
            type='KvasirDataset',
            data_root={{_base_.data_root}},
            ann_file='splits/train_unlabeled_10pct.json',
            pipeline=[
                dict(type='LoadMultiModalImages'),
                dict(type='SimulatedNBI', src='wli', dst='nbi'),
            ]),
        weak_pipeline=weak_pipeline,
        strong_pipeline=strong_pipeline,
        unlabeled_ratio=3))
