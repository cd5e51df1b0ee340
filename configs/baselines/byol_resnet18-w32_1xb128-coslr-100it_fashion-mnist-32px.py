# BYOL on Fashion-MNIST for the learning check
# (tools/benchmark/fashion_mnist_check.py): the SimCLR check config's
# encoder, data, batch, iterations and schedule, with BYOL's model (as
# configs/baselines/byol_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py).
# Not inherited through `mmpretrain::`: its model is restated as in the
# Kvasir demo config named above (mmpretrain has no model-only config).
_base_ = './simclr_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py'
model = dict(
    _delete_=True,
    type='BYOL',
    base_momentum=0.01,
    # the SimCLR check config's encoder, without its zero-initialised
    # residuals (as the Kvasir BYOL / MoCo v3 configs)
    backbone=dict(_base_.model.backbone, zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=256,
        hid_channels=1024,
        out_channels=128,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_avg_pool=True),
    head=dict(
        type='LatentPredictHead',
        predictor=dict(
            type='NonLinearNeck',
            in_channels=128,
            hid_channels=1024,
            out_channels=128,
            num_layers=2,
            with_bias=True,
            with_last_bn=False,
            with_avg_pool=False),
        loss=dict(type='CosineSimilarityLoss')))
