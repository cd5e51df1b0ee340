# Kvasir for mmpretrain's two-view baselines (SimCLR, MoCo v3, BYOL) with
# the two modalities as the two views: exactly the MICS pipeline (load,
# simulated NBI, shared crop / flip, per-modality jitter), then
# ModalitiesAsViews + mmpretrain's PackInputs, normalised like MICS.
_base_ = ['./kvasir_mics.py']
data_preprocessor = dict(
    _delete_=True,
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
# Own pipeline: kvasir_mics.py's, then the two modalities handed over as
# the two views (ModalitiesAsViews) and packed by mmpretrain's PackInputs.
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[
            dict(
                type='RandomResizedCrop',
                scale={{_base_.img_size}},
                crop_ratio_range=(0.2, 1.0)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    {{_base_.photometric_transforms}},
    dict(type='ModalitiesAsViews', modalities=('wli', 'nbi')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
