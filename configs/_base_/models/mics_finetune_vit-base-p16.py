# MICS fine-tuning model with ViT-B/16 encoders (one per modality, each
# initialised from the pre-trained MICS encoder: set model.pretrained), a
# cross-attention fusion encoder and the distribution-shift head.
model = dict(
    type='MicsMultiModalClassifier',
    modalities=('wli', 'nbi'),
    backbone=dict(
        type='VisionTransformer',
        arch='b',
        img_size=384,
        patch_size=16,
        out_type='cls_token',
        drop_path_rate=0.1),
    neck=dict(
        type='MicsFusionNeck',
        in_channels=768,
        mode='cross_attention',
        embed_dims=256,
        num_heads=4,
        depth=1),
    head=dict(
        type='MicsDistShiftHead',
        num_classes=8,
        in_channels=256,
        lambda0=0.5,
        mode='closed_form'),
    pretrained=None,
    modality_dropout=0.2)
