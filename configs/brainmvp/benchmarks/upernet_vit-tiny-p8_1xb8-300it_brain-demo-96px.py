# Tissue segmentation of the demo brain set with a ViT-tiny encoder (patch
# 8, 4 modality channels; mmseg's ViT recipe: 4 block outputs, a
# multi-level neck to 1/2..1/16 and UPerNet), from scratch. Initialise it
# from BrainMVP-ViT or MAE-ViT: --cfg-options
# model.backbone.init_cfg="dict(type='InflatedPretrained',_scope_='mics_mm',checkpoint='CKPT',prefix='backbone.')"
# (and model.data_preprocessor.templates=CKPT for BrainMVP's templates).
_base_ = './upernet_resnet18_1xb8-300it_brain-demo-96px.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='deit-tiny',
        img_size=96,
        patch_size=8,
        in_channels=4,
        out_indices=(2, 5, 8, 11),
        out_type='featmap',
        final_norm=False),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[192, 192, 192, 192],
        out_channels=192,
        scales=[4, 2, 1, 0.5]),
    decode_head=dict(in_channels=[192, 192, 192, 192], channels=64))
