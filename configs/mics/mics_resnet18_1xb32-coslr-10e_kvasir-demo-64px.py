# The small run that `make demo` trains: ResNet-18 at 64 px on the
# SYNTHETIC demo stand-in (tools/data/make_demo_kvasir.py), a few minutes
# on 2 CPU cores: the ResNet-50 config's model, schedule and runtime on the
# demo data (batch 32), 10 epochs. Re-point it with
#   --cfg-options train_dataloader.dataset.data_root=DIR
_base_ = [
    '../_base_/models/mics_resnet50.py',
    '../_base_/datasets/kvasir_mics_demo-64px.py',
    '../_base_/schedules/mics_adamw-coslr-100e.py',
    '../_base_/default_runtime.py',
]

max_epochs = 10

model = dict(
    backbone=dict(depth=18, mask_patch_size=16),
    neck=dict(in_channels=512, out_channels=128),
    # MICSQueueSizeHook caps the queue at half the (small) training set.
    head=dict(feat_dim=128),
    recon_neck=dict(in_channels=512),
    recon_head=dict(patch_size=16),
    # The small discriminator, narrowed further for CPUs (the release's
    # size, arch='release', makes a demo step several times slower).
    discriminator=dict(
        in_channels=512, arch='small', embed_dims=64, depth=2, num_heads=2))

optim_wrapper = dict(generator=dict(optimizer=dict(lr=1e-3)))
# The encoder's schedule; the discriminator keeps its constant lr (the
# base schedule's empty `discriminator` list).
param_scheduler = dict(generator=[
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
])
train_cfg = dict(max_epochs=max_epochs)
# The demo's epochs are a few iterations: alpha ramps over the first epoch
# (the release's rule) instead of the full-size configs' 100 iterations.
custom_hooks = [
    dict(type='MICSAlphaWarmupHook', warmup_epochs=1),
    dict(type='MICSQueueSizeHook', max_fraction=0.5),
    dict(type='RandomStateHook'),
    # BN statistics from unmasked images before each checkpoint (the
    # online encoder trains on masked ones; docs/methods.md, "MICS
    # decision 18: BatchNorm for ResNet encoders")
    dict(type='PreciseBNHook', num_samples=256, interval=5),
]
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=5, max_keep_ckpts=2))
log_processor = dict(window_size=1)
