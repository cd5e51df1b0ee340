# MAE (ViT-tiny, patch 8) on the SYNTHETIC demo WLI images, matched to the
# MICS ViT-tiny demo (configs/mics/mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-
# demo-64px.py): same crop, flip, split, batch 32, 10 epochs, AdamW schedule.
# mmpretrain's MAE model config made tiny (128-d / 2-block decoder), and
# MAE's AdamW recipe (betas, no decay on norms, biases and tokens) of
# mae_vit-base-p16_8xb32-coslr-100e_kvasir-wli-384px.py with the demo's
# learning rate and weight decay.
_base_ = [
    'mmpretrain::_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/kvasir_wli_single_demo-64px.py',
    '../_base_/default_runtime.py',
]
img_size = 64
model = dict(
    backbone=dict(arch='deit-tiny', img_size=img_size, patch_size=8),
    neck=dict(
        num_patches=(img_size // 8)**2,
        patch_size=8,
        embed_dim=192,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(patch_size=8))
max_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.95), weight_decay=0.02),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=5, max_keep_ckpts=2))
custom_hooks = [dict(type='RandomStateHook')]
log_processor = dict(window_size=1)
auto_scale_lr = dict(base_batch_size=256)
