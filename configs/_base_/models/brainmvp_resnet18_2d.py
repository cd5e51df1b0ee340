# BrainMVP on 2D slices (METHODS.md §2 decision 1) with mmpretrain's
# ResNet-18 taking the 4 sampled modalities as input channels, the
# skip-free decoder back to 4 channels, learnable templates of the 8
# modalities, 8 x 8 blocks at mask ratio 0.8, loss 10 * MD + CMR + CL.
model = dict(
    type='BrainMVP',
    backbone=dict(
        type='ResNet',
        depth=18,
        in_channels=4,
        out_indices=(3, ),
        norm_cfg=dict(type='BN')),
    neck=dict(
        type='MicsDecoder2D',
        in_channels=512,
        channels=(256, 128, 64, 32, 16),
        out_channels=4,
        scale=32),
    projector=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=512,
        out_channels=128,
        num_layers=2,
        with_avg_pool=False),
    head=dict(type='MicsInfoNCEHead', temperature=0.1),
    templates=dict(
        type='MicsModalityTemplates', num_modalities=8,
        canvas=(240, 240, 155)),
    block_size=8,
    mask_ratio=0.8,
    loss_weights=dict(md=10.0, cmr=1.0, cl=1.0),
    use_cl=False,
    use_templates=True)
