# mmpretrain's MAE on the demo brain set's 2D slices: the BrainMVP demo's
# data (4 sampled modalities as input channels, 96 x 96 axial crops),
# batch, epochs and AdamW schedule, with MAE's model on a ViT-tiny (patch 8,
# 4 input channels; mask ratio 0.75, 128-d / 2-block decoder).
_base_ = '../brainmvp/brainmvp_resnet18_1xb16-coslr-20e_brain-demo-2d-96px.py'
model = dict(
    _delete_=True,
    type='MAE',
    data_preprocessor=dict(type='BaseDataPreprocessor'),
    backbone=dict(
        type='MAEViT',
        arch='deit-tiny',
        img_size=96,
        patch_size=8,
        patch_cfg=dict(in_channels=4),  # MAEViT has no in_channels argument
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches=(96 // 8)**2,
        patch_size=8,
        in_chans=4,
        embed_dim=192,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=8,
        in_channels=4,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')))
# MAE has no contrastive switch.
custom_hooks = [dict(type='RandomStateHook')]
find_unused_parameters = False
