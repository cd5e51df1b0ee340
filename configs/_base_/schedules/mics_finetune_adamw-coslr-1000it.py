# Fine-tuning schedule of the full-size configs (our choice; the paper gives
# none), sized in optimizer steps: 1,000 iterations of full batches whatever
# the labelled fraction (the leaf configs draw the labelled subset through an
# SeededInfiniteSampler), so 1 % and 100 % of the labels get the same optimiser
# budget. At 8 x 32 that is 256,000 samples, BiT's budget for data sets of
# fewer than 20k images (500 steps of 512). AdamW, a 100-iteration linear
# warm-up, cosine to 1e-6; the distribution-shift strength ramps from 0 over
# the whole run (ramp_fraction x max_iters = 1,000 iterations). Validation
# every 100 iterations. The optimizer, hooks and the rest are those of the
# demo configs' epoch-based mics_finetune_adamw-coslr-50e.py.
_base_ = './mics_finetune_adamw-coslr-50e.py'
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
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=1000,
    val_interval=100)
