# BrainMVP-pre-trained ResNet-18 with a UNet decoder (skip connections from
# every stage; mics_mm.seg.UNetDecodeHead), the 2D counterpart of BrainMVP's
# UNETR-style downstream decoder.
_base_ = './upernet_resnet18_brainmvp-pre_1xb8-300it_brain-demo-96px.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='UNetDecodeHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        channels=64,
        dropout_ratio=0.1,
        num_classes=4,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.model.decode_head.loss_decode}}))
