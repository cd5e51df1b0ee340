# Linear-probe protocol on the SYNTHETIC demo data (the counterpart of the
# full fine-tuning config it inherits from): the per-modality encoders are
# initialised from a pre-training checkpoint (model.pretrained=...; MICS or
# any mmpretrain baseline with 'backbone.' keys) and frozen; only the
# concatenation of their pooled features and a linear classifier train.
_base_ = './resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py'
model = dict(
    freeze_encoders=True,
    modality_dropout=0.0,
    neck=dict(_delete_=True, type='MICSFusionNeck', mode='concat',
              in_channels=512),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=8,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
# No distribution-shift head: no lambda ramp.
custom_hooks = [dict(type='RandomStateHook')]
