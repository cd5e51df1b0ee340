# MAE (ViT-tiny, patch 8) on the SYNTHETIC demo WLI images, matched to the
# MICS ViT-tiny demo (configs/mics/mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-
# demo-64px.py): same crop, flip, split, batch 32, 10 epochs, AdamW schedule.
_base_ = './mae_vit-base-p16_8xb32-coslr-100e_kvasir-wli-384px.py'
data_root = 'data/kvasir_demo_synthetic/'
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
train_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SelectModality', modality='wli'),
    dict(type='RandomResizedCrop', scale=img_size,
         crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
max_epochs = 10
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.02))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=5, max_keep_ckpts=2))
log_processor = dict(window_size=1)
