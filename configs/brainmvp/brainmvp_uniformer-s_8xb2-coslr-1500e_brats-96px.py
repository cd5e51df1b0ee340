# BrainMVP pre-training, 3D UniFormer-S on 96^3 patches of BraTS-style data.
# Recipe on BraTS at 8 GPUs (1,251 training images):
#   python tools/analysis/recipe_report.py configs/brainmvp/brainmvp_uniformer-s_8xb2-coslr-1500e_brats-96px.py \
#       --gpus 8 --num-images 1251
# (BraTS 2021, 1,251 cases) 118,500 optimizer steps (79 an epoch), no
# warm-up (the release has none), phases MD + MD for iterations 0-23,700,
# MD + CMR 23,700-79,000, + contrastive loss 79,000-118,500.
_base_ = [
    '../_base_/models/brainmvp_uniformer-s_3d.py',
    '../_base_/datasets/brats_brainmvp.py',
    '../_base_/schedules/brainmvp_adamw-coslr-1500e.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(interval=50))
