# MICS fine-tuning with ResNet-50 encoders (set model.pretrained).
_base_ = './mics_finetune_common.py'
model = dict(
    backbone=dict(type='ResNet', depth=50), neck=dict(in_channels=2048))
