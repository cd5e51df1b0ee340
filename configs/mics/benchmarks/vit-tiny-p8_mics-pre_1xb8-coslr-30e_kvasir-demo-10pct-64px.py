# Full fine-tuning on the SYNTHETIC demo data with ViT-tiny (patch 8)
# encoders, for checkpoints of configs/mics/mics_vit-tiny-p8_* and
# configs/baselines/mae_vit-tiny-p8_* (model.pretrained=...).
_base_ = './resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        arch='deit-tiny',
        img_size=64,
        patch_size=8,
        out_type='cls_token'),
    neck=dict(in_channels=192))
