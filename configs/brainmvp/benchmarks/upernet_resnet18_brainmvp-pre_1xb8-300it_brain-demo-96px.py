# The same segmentation with the encoder initialised from a BrainMVP 2D
# pre-training checkpoint (prefix 'backbone.') and the missing modalities
# filled from its templates. Default checkpoint: what
# `python tools/train.py configs/brainmvp/pretrain_brain_demo.py` writes;
# another one: --cfg-options model.backbone.init_cfg.checkpoint=CKPT
# model.data_preprocessor.templates=CKPT
_base_ = './upernet_resnet18_1xb8-300it_brain-demo-96px.py'
pretrained = 'work_dirs/pretrain_brain_demo/epoch_20.pth'
model = dict(
    data_preprocessor=dict(templates=pretrained),
    backbone=dict(
        init_cfg=dict(
            type='InflatedPretrained', _scope_='mics_mm', checkpoint=pretrained,
            prefix='backbone.')))
