# MICS fine-tuning with ViT-B/16 encoders at 384 px (set model.pretrained).
_base_ = './mics_finetune_common.py'
model = dict(
    backbone=dict(
        type='VisionTransformer',
        arch='b',
        img_size=384,
        patch_size=16,
        out_type='cls_token',
        drop_path_rate=0.1),
    neck=dict(in_channels=768))
