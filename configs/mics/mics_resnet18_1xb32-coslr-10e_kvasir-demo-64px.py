# The small run that `make demo` trains: ResNet-18 at 64 px on the
# SYNTHETIC demo stand-in (tools/data/make_demo_kvasir.py), a few minutes
# on 2 CPU cores. Re-point it with
#   --cfg-options train_dataloader.dataset.data_root=DIR
_base_ = './mics_resnet50_8xb32-coslr-100e_kvasir-224px.py'

data_root = 'data/kvasir_demo_synthetic/'
img_size = 64
max_epochs = 10

model = dict(
    backbone=dict(depth=18, mask_patch_size=16),
    neck=dict(in_channels=512, out_channels=128),
    # MICSQueueSizeHook caps the queue at half the (small) training set.
    head=dict(feat_dim=128),
    recon_neck=dict(in_channels=512),
    recon_head=dict(patch_size=16),
    discriminator=dict(in_channels=512, embed_dims=64, depth=2, num_heads=2))

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
    dict(type='PackMultiModalInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))

optim_wrapper = dict(generator=dict(optimizer=dict(lr=1e-3)))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=5, max_keep_ckpts=2))
log_processor = dict(window_size=1)
