# MICS optimisation (docs/methods.md, "MICS"): AdamW lr 1e-4, wd 0.02, warm-up then
# cosine to 1e-5 for the encoder; Adam lr 2e-3, betas (0.5, 0.999) for the
# discriminator of the aligned loss, in its own optimizer wrapper, at a
# constant lr as in the release (no scheduler for its optimizer).
# The 100-epoch length is this project's choice (not given by the paper).
# The warm-up (lr and consistency alpha) is counted in iterations, 100 of
# them, whatever the data set: an epoch of Kvasir v1 at 8 x 32 is only 11
# iterations (python tools/analysis/recipe_report.py CONFIG --gpus N
# --num-images K prints a config's steps, warm-up and ramps).
optim_wrapper = dict(
    constructor='PartwiseOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(
            type='AdamW', lr=1e-4, weight_decay=0.02, betas=(0.9, 0.999)),
        paramwise_cfg=dict(
            custom_keys={
                'pos_embed': dict(decay_mult=0.),
                'cls_token': dict(decay_mult=0.),
                'mask_token': dict(decay_mult=0.),
                'temperature': dict(decay_mult=0.),
            })),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=2e-3, betas=(0.5, 0.999))))

# One scheduler list per optimizer wrapper (mmengine applies a plain list
# to every optimizer of an OptimWrapperDict): the encoder warms up and
# decays; the discriminator's list is empty, so its lr stays at 2e-3.
# The warm-up is 100 iterations (by_epoch=False); the cosine runs over the
# whole schedule in epochs (converted to iterations) and overlaps it, as
# mmdetection's iteration warm-ups do (mmengine chains the two factors).
# Edit with --cfg-options param_scheduler.generator.1.end=30
# (epochs, with train_cfg.max_epochs=30) or param_scheduler.generator.0.end=N
# (warm-up iterations, with custom_hooks.0.warmup_iters=N).
param_scheduler = dict(
    generator=[
        dict(
            type='LinearLR',
            start_factor=0.1,
            by_epoch=False,
            begin=0,
            end=100),
        dict(
            type='CosineAnnealingLR',
            eta_min=1e-5,
            by_epoch=True,
            begin=0,
            end=100,
            convert_to_iter_based=True),
    ],
    discriminator=[])

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(base_batch_size=256)

custom_hooks = [
    # alpha ramps from 0 to 0.4 over the lr warm-up's iterations (the
    # release: one epoch, 1,400 iterations at its batch of 2 on Kvasir v1)
    dict(type='MICSAlphaWarmupHook', warmup_iters=100),
    # Queue at most half the training set (Kvasir is small, decision 5).
    dict(type='MICSQueueSizeHook', max_fraction=0.5),
    dict(type='RandomStateHook'),
]
# Both forwards of a step (encoder, then discriminator) run through DDP;
# the discriminator's forward leaves the encoder unused. No buffer
# broadcast: the heads keep the queue (2 x 65,536 x 256 floats, 128 MiB)
# and its pointer identical on every rank (keys gathered over ranks), so
# DDP's default would send them from rank 0 at both forwards of every step
# for nothing. BatchNorm running statistics (ResNet) are then each rank's
# own; the checkpoint, and so every evaluation, holds rank 0's.
model_wrapper_cfg = dict(
    type='MultiForwardDistributedDataParallel',
    find_unused_parameters=True,
    broadcast_buffers=False)
