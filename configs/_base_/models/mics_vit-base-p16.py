# MICS with ViT-B/16 at 384 px, the public code's setting (METHODS.md §1):
# [CLS] projection to 256, queue 65,536, MAE decoder 512-d / 8 blocks /
# 16 heads at mask ratio 0.75, 6-block L2-attention discriminator.
model = dict(
    type='MICS',
    modalities=('wli', 'nbi'),
    backbone=dict(
        type='MAEViT',
        arch='b',
        img_size=384,
        patch_size=16,
        mask_ratio=0.75),
    neck=dict(
        type='LinearNeck', in_channels=768, out_channels=256, norm_cfg=None),
    head=dict(
        type='MicsConsistencyHead',
        feat_dim=256,
        queue_size=65536,
        temperature=0.07,
        alpha=0.4),
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
    discriminator=dict(
        type='MicsL2AttnDiscriminator',
        in_channels=768,
        embed_dims=256,
        depth=6,
        num_heads=4),
    aligned_head=dict(type='MicsAlignedHead', gen_target='flip'),
    loss_weights=dict(reconstruction=10.0, consistency=1.0, aligned=0.1),
    momentum=0.005,
    cross_modal_recon=False)
