# Kvasir (WLI-only) for MICS pre-training: the NBI view is simulated from
# the WLI image (docs/methods.md, "MICS decision 2"). On the paired MICS layout
# (<root>/train/<class>_WLI, <class>_NBI) the real NBI image is used and
# SimulatedNBI does nothing.
dataset_type = 'KvasirDataset'
data_root = 'data/kvasir/'
modalities = ('wli', 'nbi')
img_size = 224

data_preprocessor = dict(
    type='PerModalityDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    modalities=modalities)

# Photometric augmentation drawn per modality (decision 3); leaf configs
# that change the crop size reuse it as {{_base_.photometric_transforms}}.
photometric_transforms = dict(
    type='PerModalityTransforms',
    transforms=[
        dict(
            type='RandomApply',
            transforms=[
                dict(
                    type='ColorJitter',
                    brightness=0.4,
                    contrast=0.4,
                    saturation=0.2,
                    hue=0.05)
            ],
            prob=0.8),
    ])

train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    # Geometry shared by the modalities of a sample (decision 3).
    dict(
        type='SharedModalityTransforms',
        transforms=[
            dict(
                type='RandomResizedCrop',
                scale=img_size,
                crop_ratio_range=(0.2, 1.0)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    photometric_transforms,
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    # DefaultSampler's indices; each sample's augmentations drawn from
    # (seed, epoch, index) only: the same for any num_workers /
    # persistent_workers / rank layout, exact on --resume
    # (docs/reliability.md). _scope_: found from mmseg's scope too.
    sampler=dict(type='SeededSampler', _scope_='mics_mm', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        # Written by: python tools/data/make_splits.py --data-root data/kvasir
        ann_file='splits/train.json',
        modalities=modalities,
        pipeline=train_pipeline))
