# BrainMVP pre-training, 3D UniFormer-S on 96^3 patches of BraTS-style data.
_base_ = [
    '../_base_/models/brainmvp_uniformer-s_3d.py',
    '../_base_/datasets/brats_brainmvp.py',
    '../_base_/schedules/brainmvp_adamw-coslr-1500e.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(interval=50))
