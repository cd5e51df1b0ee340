# MICS on Fashion-MNIST (real images; the second modality is each image's
# gradient magnitude): the learning check of
# tools/benchmark/fashion_mnist_check.py (docs/benchmarks.md), sized for
# 2 CPU cores. A ResNet-18 of half width (32 base channels, 256-d output)
# at 32 px, batch 128, 100 iterations (12,800 pairs, 0.21 passes over the
# 60,000 training images), AdamW lr 1e-3 with a 10-iteration warm-up and a
# cosine decay; the consistency queue capped at half the training set
# (MICSQueueSizeHook), alpha ramped over the warm-up, the small
# discriminator. The baselines' configs
# (configs/baselines/*_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py)
# share the encoder, data, batch, iterations and lr schedule.
_base_ = [
    '../_base_/models/mics_resnet50.py',
    '../_base_/datasets/fashion_mnist_pairs-32px.py',
    '../_base_/schedules/mics_adamw-coslr-100e.py',
    '../_base_/default_runtime_iter.py',
]
max_iters = 100
warmup_iters = 10

model = dict(
    modalities=('image', 'gradient'),
    backbone=dict(depth=18, base_channels=32, stem_channels=32,
                  mask_patch_size=8, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=256, out_channels=128),
    # A queue of 4,096 keys (MoCo's CIFAR setting) instead of 65,536;
    # docs/benchmarks.md ("MICS at this budget") compares it with 512.
    head=dict(feat_dim=128, queue_size=4096),
    recon_neck=dict(in_channels=256),
    recon_head=dict(patch_size=8),
    discriminator=dict(
        in_channels=256, arch='small', embed_dims=64, depth=2, num_heads=2))

optim_wrapper = dict(generator=dict(optimizer=dict(lr=1e-3)))
param_scheduler = dict(generator=[
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False,
         begin=warmup_iters, end=max_iters),
])
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=max_iters)
custom_hooks = [
    dict(type='MICSAlphaWarmupHook', warmup_iters=warmup_iters),
    dict(type='MICSQueueSizeHook', max_fraction=0.5),
    dict(type='RandomStateHook'),
    # BN statistics from unmasked images before the checkpoint
    # (docs/methods.md, "MICS decision 18: BatchNorm for ResNet encoders")
    dict(type='PreciseBNHook', num_samples=2048, interval=max_iters),
]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
log_processor = dict(window_size=25)
