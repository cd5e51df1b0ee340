# MICS with ResNet-50: SimMIM-style masked input (32-px squares, ratio
# 0.75) and a linear pixel-shuffle decoder (docs/methods.md, "MICS decision 6").
# The paper is ViT-only; for CNNs, whose masked input costs a whole extra
# encoder pass, the online consistency feature is taken from that masked
# pass (the momentum encoder still sees the full images), which makes a
# step ~1.5x cheaper. Set consistency_from_masked=False for the public
# code's separate full pass.
# BatchNorm: SyncBN in the online and the momentum encoder (MoCo v3's and
# mmpretrain's SimCLR / MoCo v3 / BYOL ResNet-50 recipes), so that batch
# statistics are taken over the global batch of 256 and a rank's own
# 32 samples cannot leak into its contrastive keys (MoCo's shuffle-BN
# concern; docs/methods.md, "MICS decision 18: BatchNorm for ResNet
# encoders"). CPU runs replace it by BN (logged). The BN statistics that
# evaluation uses are recomputed from unmasked images (PreciseBNHook in
# the ResNet pre-training configs).
_base_ = './mics_common.py'
model = dict(
    backbone=dict(
        type='MaskedResNet',
        depth=50,
        mask_patch_size=32,
        mask_ratio=0.75,
        norm_cfg=dict(type='SyncBN')),
    neck=dict(
        type='LinearNeck', in_channels=2048, out_channels=256, norm_cfg=None),
    recon_neck=dict(
        type='SimMIMLinearDecoder', in_channels=2048, encoder_stride=32),
    recon_head=dict(
        type='SimMIMHead',
        patch_size=32,
        loss=dict(type='PixelReconstructionLoss', criterion='L2', channel=3)),
    # 7 x 7 tokens at 224 px; the position embedding's default 576 rows
    # cover inputs up to 768 px.
    discriminator=dict(in_channels=2048),
    consistency_from_masked=True)
