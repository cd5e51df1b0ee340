# BrainMVP 2D pre-training on the demo brain set (`make demo-brainmvp`):
# ResNet-18 on 96 x 96 axial slices, 20 epochs of 11 steps; the release's
# three phases scaled to 20 epochs (MD + MD for 4, MD + CMR from epoch 4,
# CL from epoch 14); minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/brainmvp_resnet18_2d.py',
    '../_base_/datasets/brain_demo_brainmvp_2d.py',
    '../_base_/schedules/brainmvp_adamw-coslr-1500e.py',
    '../_base_/default_runtime.py',
]
max_epochs = 20
# The demo canvas: the MNI152 template at 2 mm (make_brain_demo.py).
model = dict(templates=dict(canvas=(98, 116, 94)))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=2,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    dict(type='BrainMVPScheduleHook', cmr_start=4, cl_start=14,
         by_epoch=True),
    dict(type='RandomStateHook'),
]
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=10, max_keep_ckpts=1))
