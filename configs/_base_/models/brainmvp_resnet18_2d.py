# BrainMVP on 2D slices (docs/methods.md, "BrainMVP decision 1"): the 3D
# model's proxy tasks, templates and losses, with mmpretrain's ResNet-18
# taking one modality per view (one input channel, as the release) and the
# 2D skip-free decoder back to that channel (8 x 8 blocks at mask ratio
# 0.8, loss 10 * view 1 + view 2 + CL).
_base_ = './brainmvp_uniformer-s_3d.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        in_channels=1,
        out_indices=(3, ),
        norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=512),
    recon_neck=dict(_delete_=True, type='BrainMVPConvDecoder2D',
                    in_channels=512, channels=(256, 128, 64, 32, 16),
                    out_channels=1, scale=32))
