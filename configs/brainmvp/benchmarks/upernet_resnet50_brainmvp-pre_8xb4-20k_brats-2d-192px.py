# BraTS tumour segmentation through mmsegmentation with the encoder of the
# BrainMVP 2D pre-training (ResNet-50, 4 modality channels) and UPerNet;
# missing modalities from its templates. 20k iterations, 8 GPUs x 4.
# Checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=CKPT
# model.data_preprocessor.templates=CKPT
_base_ = [
    '../../_base_/models/upernet_resnet18_mri.py',
    '../../_base_/datasets/brats_seg_2d.py',
    '../../_base_/schedules/seg_adamw-poly-300it.py',
    '../../_base_/seg_runtime.py',
]
pretrained = ('work_dirs/brainmvp_resnet50_8xb32-coslr-300e_brats-2d-192px/'
              'epoch_300.pth')
norm_cfg = dict(type='SyncBN', requires_grad=True)  # BN on CPU (compat)
model = dict(
    data_preprocessor=dict(templates=pretrained),
    backbone=dict(
        depth=50,
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='InflatedPretrained', _scope_='mics_mm', checkpoint=pretrained,
            prefix='backbone.')),
    decode_head=dict(
        in_channels=[256, 512, 1024, 2048], channels=512, norm_cfg=norm_cfg))
max_iters = 20000
optim_wrapper = dict(optimizer=dict(lr=3e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=500),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, by_epoch=False, begin=500,
         end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=2000)
default_hooks = dict(checkpoint=dict(interval=2000))
