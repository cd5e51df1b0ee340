# MAE (ViT-tiny, patch 8) on both modalities of the SYNTHETIC demo pairs
# (WLI and simulated NBI, each a sample of its own: 64 images per batch of
# 32 pairs, as many as MICS / SimCLR see), matched to the MICS ViT-tiny demo:
# same crop, flip, split, batch 32, 10 epochs, AdamW schedule.
# tools/benchmark/label_efficiency.py uses it as `mae`.
_base_ = './mae_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-wli-64px.py'
# The model comes from mmpretrain's base (built in scope mmpretrain), so
# our preprocessor inside it is named with its scope.
data_preprocessor = dict(type='mics_mm.ViewsAsBatchDataPreprocessor')
# Own pipeline: both modalities (simulated NBI beside the WLI image, one
# shared crop / flip), each a sample of its own, where the base takes the
# WLI image alone; no colour jitter (MAE's recipe has none).
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SimulatedNBI', src='wli', dst='nbi'),
    dict(
        type='SharedModalityTransforms',
        transforms=[
            dict(
                type='RandomResizedCrop',
                scale={{_base_.img_size}},
                crop_ratio_range=(0.5, 1.0)),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
    dict(type='ModalitiesAsViews', modalities=('wli', 'nbi')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
