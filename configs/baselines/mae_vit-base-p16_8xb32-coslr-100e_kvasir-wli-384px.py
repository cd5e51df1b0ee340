# mmpretrain's MAE (ViT-B/16) on the Kvasir WLI images at 384 px (MAE takes
# one image per sample): MICS's split, crop, flip, batch and 100 epochs;
# MAE's model (mask ratio 0.75, 512-d / 8-block decoder, as MICS's
# reconstruction branch) and AdamW recipe.
_base_ = [
    '../_base_/datasets/kvasir_wli_single.py',
    '../_base_/default_runtime.py',
]
img_size = 384
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SelectModality', modality='wli'),
    dict(type='RandomResizedCrop', scale=img_size,
         crop_ratio_range=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    type='MAE',
    backbone=dict(
        type='MAEViT', arch='b', img_size=img_size, patch_size=16,
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches=(img_size // 16)**2,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])
max_epochs = 100
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1.5e-4, betas=(0.9, 0.95),
        weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0,
         end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='RandomStateHook')]
auto_scale_lr = dict(base_batch_size=256)
