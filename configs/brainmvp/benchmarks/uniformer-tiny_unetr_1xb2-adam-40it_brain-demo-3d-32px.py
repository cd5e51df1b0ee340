# The 3D segmentation of the BraTS configs, small enough for a CPU: tiny
# UniFormer + UNETR decoder, class-wise softmax outputs (the demo's tissue
# classes), 32^3 patches, 40 iterations of batch 2, whole-volume
# sliding-window testing (32^3 windows, overlap 0.5), class-wise Dice /
# HD95. From scratch; BrainMVP pre-training and templates as in the
# brainmvp-pre BraTS config:
# --cfg-options model.pretrained=CKPT model.templates=CKPT
# model.template_mix=True model.feature_mse_weight=0.1
# (a checkpoint of ../brainmvp_uniformer-tiny_1xb2-coslr-8e_brain-demo-3d-32px.py,
# whose tiny encoder this one loads; `make demo-brainmvp` runs both ways)
#   python tools/data/make_brain_demo.py --out data/brain_demo
#   python tools/train.py <this config>
#   python tools/test.py <this config> work_dirs/<name>/iter_40.pth
_base_ = [
    '../../_base_/models/uniformer-s_unetr_3d.py',
    '../../_base_/datasets/brain_demo_seg_3d.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch='tiny'),
    head=dict(regions=None, num_classes=4),
    test_cfg=dict(roi_size=32, overlap=0.5, sw_batch_size=4))
max_iters = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0.0,
         by_epoch=False, begin=0, end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
