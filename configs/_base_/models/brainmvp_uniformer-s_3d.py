# BrainMVP with the paper's 3D UniFormer-S (depths 3, 4, 8, 3; widths 64,
# 128, 320, 512), a decoder without skips back to the 4 input channels
# (whole-volume MSE), learnable templates of the 8 modalities on the SRI24
# canvas, 8^3 blocks at mask ratio 0.8, loss 10 * MD + CMR + CL. As in MICS,
# `neck` + `head` are the contrastive branch and `recon_neck` + `recon_head`
# the reconstructive one.
model = dict(
    type='BrainMVP',
    backbone=dict(type='UniFormer3D', arch='s', in_channels=4),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=False),
    head=dict(type='InfoNCEHead', temperature=0.1),
    recon_neck=dict(
        type='BrainMVPConvDecoder3D',
        in_channels=512,
        channels=(256, 128, 64, 32, 16),
        out_channels=4,
        scale=32),
    recon_head=dict(
        type='BrainMVPReconHead',
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    templates=dict(
        type='BrainMVPModalityTemplates', num_modalities=8,
        canvas=(240, 240, 155)),
    block_size=8,
    mask_ratio=0.8,
    loss_weights=dict(md=10.0, cmr=1.0, cl=1.0),
    use_cl=False,
    use_templates=True)
