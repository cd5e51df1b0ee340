# SimCLR on the SYNTHETIC demo data, matched to the MICS demo
# (configs/mics/pretrain_kvasir_demo.py): ResNet-18, 64 px, the same
# pipeline (WLI / simulated NBI as the two views), split, batch 32, 10
# epochs, AdamW schedule. tools/benchmark/label_efficiency.py uses it.
_base_ = './simclr_resnet50_8xb32-coslr-100e_kvasir-224px.py'
data_root = 'data/kvasir_demo_synthetic/'
img_size = 64
model = dict(
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=512))
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
    {{_base_.photometric_transforms}},
    dict(type='ModalitiesAsViews', modalities=('wli', 'nbi')),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
# The MICS demo schedule, so that only the method differs.
max_epochs = 10
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=5, max_keep_ckpts=2))
log_processor = dict(window_size=1)
