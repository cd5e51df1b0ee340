# Fine-tuning schedule (our choice; the paper gives none): AdamW, 1-epoch
# warm-up, cosine; the distribution-shift strength ramps from 0 over the run.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
        }))
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
        eta_min=1e-6,
        by_epoch=True,
        begin=1,
        end=50,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
custom_hooks = [
    dict(type='MICSLambdaRampHook', ramp_fraction=1.0),
    dict(type='RandomStateHook'),
]
# modality_dropout leaves one encoder unused in some steps (all ranks drop the
# same one: they share the seed), so DDP must allow unused parameters.
find_unused_parameters = True
