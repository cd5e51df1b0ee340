# MICS with ViT-B/16 at 384 px, the public code's setting (docs/methods.md, "MICS"):
# [CLS] projection to 256 and MAE-style masking (ratio 0.75) with a
# 512-d / 8-block / 16-head decoder.
_base_ = './mics_common.py'
model = dict(
    backbone=dict(
        type='MAEViT', arch='b', img_size=384, patch_size=16,
        mask_ratio=0.75),
    neck=dict(
        type='LinearNeck', in_channels=768, out_channels=256, norm_cfg=None),
    recon_neck=dict(
        type='MAEPretrainDecoder',
        num_patches=(384 // 16)**2,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        decoder_embed_dim=512,
        decoder_depth=8,
        decoder_num_heads=16,
        mlp_ratio=4.),
    recon_head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=16,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    # The discriminator sees the full pass's 577 tokens (the [CLS] token
    # and 24 x 24 patches), each at its own row of the position embedding.
    discriminator=dict(in_channels=768, num_tokens=(384 // 16)**2 + 1))
