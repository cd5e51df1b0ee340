# MoCo v3 (ResNet-18) on the SYNTHETIC demo data, matched to the MICS demo
# like the SimCLR demo config (same pipeline, batch, epochs, schedule).
# Not inherited through `mmpretrain::`: mmpretrain 1.2.0 has no model-only
# config for MoCo v3 (its _base_/models/ has MAE's only), and its MoCo v3 configs
# also define train_dataloader, optim_wrapper, default_hooks, default_scope,
# ..., which mmengine refuses beside our data and runtime bases ("Duplicate
# key is not allowed among bases"); the model replaces the SimCLR one.
_base_ = './simclr_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
model = dict(
    _delete_=True,
    type='MoCoV3',
    base_momentum=0.01,
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_bias=False,
        with_last_bn=True,
        with_last_bn_affine=False,
        with_last_bias=False,
        with_avg_pool=True),
    head=dict(
        type='MoCoV3Head',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=1024,
            out_channels=128,
            num_layers=2,
            with_bias=False,
            with_last_bn=False,
            with_last_bn_affine=False,
            with_last_bias=False,
            with_avg_pool=False),
        loss=dict(type='CrossEntropyLoss', loss_weight=2 * 1.0),
        temperature=1.0))
