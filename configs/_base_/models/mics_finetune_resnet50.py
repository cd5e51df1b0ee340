# MICS fine-tuning model with ResNet-50 encoders (see the ViT variant).
model = dict(
    type='MicsMultiModalClassifier',
    modalities=('wli', 'nbi'),
    backbone=dict(type='ResNet', depth=50),
    neck=dict(
        type='MicsFusionNeck',
        in_channels=2048,
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
