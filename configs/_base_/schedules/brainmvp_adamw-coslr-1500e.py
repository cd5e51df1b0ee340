# BrainMVP optimisation as released (its launch script): AdamW lr 3e-4,
# wd 1e-5, cosine annealing without warm-up, 1500 epochs, and three phases
# (docs/methods.md, "BrainMVP: schedule"), driven by BrainMVPScheduleHook:
# MD + MD views for epochs 0-299, MD + CMR from epoch 300 (the release's
# `cur_epoch <= 300` keeps MD + MD one epoch longer), the contrastive loss
# from epoch 1000 (`--start_epoch 1000`).
# The templates (8 x 240 x 240 x 155 = 71.4 M voxels) take AdamW only
# where a step touched them (its crops and each template's argmin / argmax
# voxel): exact AdamW there, untouched voxels neither move nor decay
# (mics_mm/engine/optimizers/sparse_template_adamw.py;
# docs/benchmarks.md, "BrainMVP 3D step cost"). `sparse_templates=False`
# gives dense AdamW over the whole templates back.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='BrainMVPTemplateOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-5),
    sparse_templates=True)
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
    dict(type='BrainMVPScheduleHook', cmr_start=300, cl_start=1000,
         by_epoch=True),
    dict(type='RandomStateHook'),
]
# With CL off, the projection neck and contrastive head are unused.
find_unused_parameters = True
