# mmsegmentation EncoderDecoder for multi-parametric MRI slices: mmpretrain's
# ResNet-18 (the encoder BrainMVP pre-trains on 2D slices) with the
# modalities as input channels and mmseg's UPerNet head; CE + Dice loss
# (BrainMVP's downstream loss is Dice + cross-entropy). Missing modalities
# are filled by the data preprocessor (templates=<BrainMVP checkpoint>).
norm_cfg = dict(type='BN', requires_grad=True)
num_modalities = 4
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='MRISegDataPreprocessor',
        templates=None,
        size_divisor=32,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='mmpretrain.ResNet',
        depth=18,
        in_channels=num_modalities,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='UPerHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=128,
        dropout_ratio=0.1,
        num_classes=4,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=False,
                 loss_weight=1.0),
            dict(type='DiceLoss', use_sigmoid=False, loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
