# BrainMVP as released (docs/methods.md, "BrainMVP: architecture"): 3D
# UniFormer-S (depths 3, 4, 8, 3; widths 64, 128, 320, 512; kernel-2
# stride-2 patch embeddings at every stage, stage strides 2, 4, 8, 16;
# BatchNorm3d after the last stage) and the linear skip-free decoder (four
# ConvTranspose3d 512 -> 320 -> 128 -> 64 -> 64, a 1x1x1 conv) back to the
# input channels (whole-volume MSE); learnable templates of the 8
# modalities on the SRI24 canvas, 8^3 blocks at mask ratio 0.8, loss
# 10 * MD + CMR + CL. As in MICS, `neck` + `head` are the contrastive branch
# and `recon_neck` + `recon_head` the reconstructive one.
# Options restoring the earlier layout: `backbone.patch_strides=(4, 2, 2, 2)`
# (stride-4 stem: strides 4, 8, 16, 32, 8x fewer tokens per stage) and
# `backbone.final_norm=False`; the conv decoder (ConvTranspose3d ->
# InstanceNorm -> LeakyReLU -> 3x3x3 conv steps) is
# recon_neck=dict(_delete_=True, type='BrainMVPConvDecoder3D',
# in_channels=512, channels=(256, 128, 64, 32), out_channels=1, scale=16),
# or with the stride-4 stem channels=(256, 128, 64, 32, 16), scale=32 (the
# linear decoder likewise needs a fifth `channels` entry there).
# `backbone.with_cp=True` recomputes block activations in the backward pass
# to save memory. `arch='tiny'` defaults to the stride-4 stem (stride 32).
model = dict(
    type='BrainMVP',
    # one modality per view: one input channel, one reconstructed channel
    backbone=dict(
        type='UniFormer3D', arch='s', in_channels=1,
        # activation checkpointing: a bool or one per stage (96^3, batch 2:
        # 6.1 GB -> 3.1 GB, tools/benchmark/uniformer_memory.py)
        with_cp=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=False),
    head=dict(type='InfoNCEHead', temperature=0.1),
    recon_neck=dict(
        type='BrainMVPLinearDecoder3D',
        in_channels=512,
        channels=(320, 128, 64, 64),
        out_channels=1),
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
    use_md=True)
