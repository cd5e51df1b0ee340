# BrainMVP 2D pre-training on BraTS-style data (data/brats/): ResNet-50 on
# 192 x 192 axial slices of 4 sampled modalities, the SRI24 canvas, AdamW
# 3e-4 with a cosine schedule; the 2D encoder then fine-tunes through
# mmsegmentation (configs/brainmvp/benchmarks/).
# Recipe on BraTS at 8 GPUs (1,251 training images):
#   python tools/analysis/recipe_report.py configs/brainmvp/brainmvp_resnet50_8xb32-coslr-300e_brats-2d-192px.py \
#       --gpus 8 --num-images 1251
# (1,251 training items) 1,500 optimizer steps (5 an epoch), no warm-up (the
# release has none), phases MD + MD for iterations 0-300, MD + CMR 300-1,000,
# + contrastive loss 1,000-1,500; the report warns (< 2,000 steps, 5 an
# epoch, lr x16 under --auto-scale-lr).
_base_ = [
    '../_base_/models/brainmvp_resnet18_2d.py',
    '../_base_/datasets/brats_brainmvp_2d.py',
    '../_base_/schedules/brainmvp_adamw-coslr-1500e.py',
    '../_base_/default_runtime.py',
]
max_epochs = 300
model = dict(
    backbone=dict(depth=50),
    neck=dict(in_channels=2048, hid_channels=2048),
    recon_neck=dict(in_channels=2048))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-6,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    # the release's phases scaled to 300 epochs (300 / 1000 / 1500)
    dict(type='BrainMVPScheduleHook', cmr_start=60, cl_start=200,
         by_epoch=True),
    dict(type='RandomStateHook'),
]
default_hooks = dict(checkpoint=dict(interval=10))
