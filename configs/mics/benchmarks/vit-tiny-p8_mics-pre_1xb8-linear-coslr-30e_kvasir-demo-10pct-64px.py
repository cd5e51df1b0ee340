# Linear-probe protocol with frozen ViT-tiny (patch 8) encoders on the
# SYNTHETIC demo data (see the ResNet-18 linear-probe config).
_base_ = './resnet18_mics-pre_1xb8-linear-coslr-30e_kvasir-demo-10pct-64px.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        arch='deit-tiny',
        img_size=64,
        patch_size=8,
        out_type='cls_token'),
    neck=dict(in_channels=192),
    head=dict(in_channels=384))
