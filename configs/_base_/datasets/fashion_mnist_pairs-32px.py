# Fashion-MNIST (real 28 x 28 grey images, Debian's dataset-fashion-mnist
# package) as a two-modality set for the learning check on real images
# (tools/benchmark/fashion_mnist_check.py, docs/benchmarks.md): modality
# 'image' is the photograph, 'gradient' its Sobel gradient magnitude
# (GradientMagnitude: a different contrast of the same object, same
# geometry), the pair MICS pre-trains on. The pipeline is the Kvasir one
# (kvasir_mics.py) at 32 px: geometry shared by the modalities, photometry
# drawn per modality (docs/methods.md, "MICS decision 3"). All 60,000
# training images, batch 128, iteration-based (the schedule sets the
# iterations).
dataset_type = 'FashionMNISTMultiModal'
data_root = '/usr/share/datasets/fashion-mnist'
modalities = ('image', 'gradient')
img_size = 32

# Fashion-MNIST's mean and std (0.286, 0.353 of 255), on both modalities.
data_preprocessor = dict(
    type='PerModalityDataPreprocessor',
    mean=[72.94, 72.94, 72.94],
    std=[90.0, 90.0, 90.0],
    to_rgb=False,
    modalities=modalities)

photometric_transforms = dict(
    type='PerModalityTransforms',
    transforms=[
        dict(
            type='RandomApply',
            transforms=[dict(type='ColorJitter', brightness=0.4,
                             contrast=0.4)],
            prob=0.8),
    ])
shared_geometry = dict(
    type='SharedModalityTransforms',
    transforms=[
        dict(type='RandomResizedCrop', scale=img_size,
             crop_ratio_range=(0.2, 1.0)),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ])

train_pipeline = [
    dict(type='GradientMagnitude', src='image', dst='gradient'),
    shared_geometry,
    photometric_transforms,
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='SeededInfiniteSampler', _scope_='mics_mm',
                 shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        modalities=modalities,
        pipeline=train_pipeline))
