# BrainMVP optimisation (public code): AdamW lr 3e-4, wd 1e-5, cosine,
# 1500 epochs. The contrastive loss starts late: at epoch 1000 here (the
# public code's exact switch point is not documented; this is our choice),
# driven by BrainMVPScheduleHook (docs/methods.md, "BrainMVP decision 2").
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-5))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=0,
        end=1500,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1500)
auto_scale_lr = dict(base_batch_size=16)
custom_hooks = [
    dict(type='BrainMVPScheduleHook', cl_start=1000, by_epoch=True),
    dict(type='RandomStateHook'),
]
# With CL off, the projection neck and contrastive head are unused.
find_unused_parameters = True
