# Fine-tuning schedule of the full-size configs (our choice; the paper gives
# none), sized in optimizer steps: 1,000 iterations of full batches whatever
# the labelled fraction (the leaf configs draw the labelled subset through an
# SeededInfiniteSampler), so 1 % and 100 % of the labels get the same optimiser
# budget. At 8 x 32 that is 256,000 samples, BiT's budget for data sets of
# fewer than 20k images (500 steps of 512). AdamW, a 100-iteration linear
# warm-up, cosine to 1e-6; the distribution-shift strength ramps from 0 over
# the whole run (ramp_fraction x max_iters = 1,000 iterations). Validation
# every 100 iterations. The epoch-based schedule of the demo configs is
# mics_finetune_adamw-coslr-50e.py.
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
        by_epoch=False,
        begin=0,
        end=100),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=False,
        begin=100,
        end=1000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=100)
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
