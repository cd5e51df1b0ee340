# MICS optimisation (docs/methods.md, "MICS"): AdamW lr 1e-4, wd 0.02, warm-up then
# cosine to 1e-5 for the encoder; Adam lr 2e-3, betas (0.5, 0.999) for the
# discriminator of the aligned loss, in its own optimizer wrapper.
# The 100-epoch length is this project's choice (not given by the paper).
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
        end=100,
        convert_to_iter_based=True),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(base_batch_size=256)

custom_hooks = [
    dict(type='MICSAlphaWarmupHook', warmup_epochs=1),
    # Queue at most half the training set (Kvasir is small, decision 5).
    dict(type='MICSQueueSizeHook', max_fraction=0.5),
    dict(type='RandomStateHook'),
]
# Both forwards of a step (encoder, then discriminator) run through DDP;
# the discriminator's forward leaves the encoder unused.
model_wrapper_cfg = dict(
    type='MultiForwardDistributedDataParallel', find_unused_parameters=True)
