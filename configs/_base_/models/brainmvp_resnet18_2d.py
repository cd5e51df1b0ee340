# BrainMVP on 2D slices (docs/methods.md, "BrainMVP decision 1"): the 3D model's proxy
# tasks, templates and losses, with mmpretrain's ResNet-18 taking the 4
# sampled modalities as input channels and the 2D skip-free decoder (8 x 8
# blocks at mask ratio 0.8, loss 10 * MD + CMR + CL).
_base_ = './brainmvp_uniformer-s_3d.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        in_channels=4,
        out_indices=(3, ),
        norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=512),
    recon_neck=dict(_delete_=True, type='BrainMVPConvDecoder2D',
                    in_channels=512, channels=(256, 128, 64, 32, 16),
                    out_channels=4, scale=32))
