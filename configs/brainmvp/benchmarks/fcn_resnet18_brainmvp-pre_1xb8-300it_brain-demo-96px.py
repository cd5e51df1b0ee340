# BrainMVP-pre-trained ResNet-18 with mmseg's FCN head (last stage only).
_base_ = './upernet_resnet18_brainmvp-pre_1xb8-300it_brain-demo-96px.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='FCNHead',
        in_channels=512,
        in_index=3,
        channels=128,
        num_convs=2,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=4,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.model.decode_head.loss_decode}}))
