# BrainMVP downstream 3D segmentation (docs/methods.md,
# "BrainMVP: downstream"): the release's UniUnet. UniFormer-S encoder (all
# four stages out, a 4-channel stem), UNETR-style decoder with skips (MONAI
# UnetrUpBlocks, instance norm, an input-level skip; its in_channels and
# strides are read off the backbone), sigmoid outputs of the BraTS regions
# WT / TC / ET with deep supervision from the decoder outputs at strides 4
# and 2 (loss 0.7 Dice + 0.3 BCE per output, the three summed), MONAI
# sliding-window inference over whole volumes (96^3 windows, overlap 0.5).
# The release's intensity augmentation (shift 0.1, then scale 0.1, per
# sample) runs in the model, after any template substitution, as in the
# release.
model = dict(
    type='BrainMVPSegmentor3D',
    data_preprocessor=dict(type='MRIDataPreprocessor'),
    backbone=dict(
        type='UniFormer3D', arch='s', in_channels=4,
        out_indices=(0, 1, 2, 3)),
    neck=dict(type='UNETRDecoder3D', norm_name='instance', res_block=True),
    head=dict(
        type='BraTSRegionHead',
        regions='2021',
        level_weights=(1.0, 1.0, 1.0),
        dice_weight=0.7,
        ce_weight=0.3),
    # BrainMVP pre-training: the encoder (prefix 'backbone.') and the
    # templates; the stem is re-initialised as in the release ('inflate':
    # the 1-channel pre-trained kernel spread over the 4 channels).
    pretrained=None,
    stem_init='reinit',
    templates=None,
    template_mix=False,
    max_mix_channels=3,
    feature_mse_weight=0.0,
    intensity_shift=0.1,
    intensity_scale=0.1,
    test_cfg=dict(roi_size=96, overlap=0.5, sw_batch_size=1,
                  mode='constant'))
