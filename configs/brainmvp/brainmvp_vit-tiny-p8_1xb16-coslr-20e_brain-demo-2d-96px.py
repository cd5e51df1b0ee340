# BrainMVP 2D on the demo brain set with a ViT-tiny (patch 8, one modality
# per view, feature-map output) instead of ResNet-18: the encoder MAE uses
# in configs/baselines/mae_vit-tiny-p8_1xb16-coslr-20e_brain-demo-2d-96px.py,
# so the two methods compare on one backbone (quality and cost).
_base_ = './brainmvp_resnet18_1xb16-coslr-20e_brain-demo-2d-96px.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        arch='deit-tiny',
        img_size=96,
        patch_size=8,
        in_channels=1,
        out_type='featmap'),
    neck=dict(in_channels=192, hid_channels=512),
    recon_neck=dict(in_channels=192, channels=(128, 64, 32), scale=8))
