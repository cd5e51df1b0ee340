# fashion_mnist_pairs-32px.py for mmpretrain's own SimCLR / MoCo v3 / BYOL:
# the same pairs (image, gradient magnitude), the same augmentation, handed
# over as the two views of a multi-view sample (ModalitiesAsViews), so that
# the baselines see what MICS sees and only the method differs (as the
# Kvasir baselines, kvasir_mm_views.py).
_base_ = './fashion_mnist_pairs-32px.py'

data_preprocessor = dict(
    _delete_=True,
    type='SelfSupDataPreprocessor',
    mean=[72.94, 72.94, 72.94],
    std=[90.0, 90.0, 90.0],
    to_rgb=False)
train_pipeline = [
    dict(type='GradientMagnitude', src='image', dst='gradient'),
    {{_base_.shared_geometry}},
    {{_base_.photometric_transforms}},
    dict(type='ModalitiesAsViews', modalities={{_base_.modalities}}),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
