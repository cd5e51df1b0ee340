# MICS with a ViT-tiny (patch 8) at 64 px on the SYNTHETIC demo data: the
# ViT counterpart of the ResNet-18 demo (MAE-style masking, a 128-d /
# 2-block decoder, a 2-block discriminator), for comparisons with MAE on the
# same encoder (configs/baselines/mae_vit-tiny-p8_...).
_base_ = './mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
img_size = 64
model = dict(
    backbone=dict(
        _delete_=True,
        type='MAEViT',
        arch='deit-tiny',
        img_size=img_size,
        patch_size=8,
        mask_ratio=0.75),
    neck=dict(in_channels=192),
    recon_neck=dict(
        _delete_=True,
        type='MAEPretrainDecoder',
        num_patches=(img_size // 8)**2,
        patch_size=8,
        in_chans=3,
        embed_dim=192,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
        mlp_ratio=4.),
    recon_head=dict(
        _delete_=True,
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=8,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    discriminator=dict(in_channels=192),
    # The ViT configs take consistency from a separate full pass (public
    # code), as configs/mics/mics_vit-base-p16_*.py.
    consistency_from_masked=False)
