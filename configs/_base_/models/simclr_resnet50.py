# mmpretrain's SimCLR model with a ResNet-50 (SyncBN, zero-initialised
# residuals), 2-layer 2048-d projection to 128, temperature 0.1: the model
# of mmpretrain's simclr/simclr_resnet50_8xb32-coslr-200e_in1k.py.
# Not inherited through `mmpretrain::`: mmpretrain 1.2.0 has no model-only
# config for SimCLR (its _base_/models/ has MAE's, no SimCLR / MoCo v3 /
# BYOL), and its SimCLR configs also define train_dataloader, optim_wrapper,
# default_hooks, default_scope, ..., which mmengine refuses beside our data
# and runtime bases ("Duplicate key is not allowed among bases").
model = dict(
    type='SimCLR',
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=True),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_avg_pool=True),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.1))
