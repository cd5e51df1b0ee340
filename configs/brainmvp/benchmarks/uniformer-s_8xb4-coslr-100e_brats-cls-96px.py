# The same classification from scratch (random encoder, zero channels for
# missing modalities): the baseline of the BrainMVP-pre-trained config.
_base_ = './uniformer-s_brainmvp-pre_8xb4-coslr-100e_brats-cls-96px.py'
model = dict(
    data_preprocessor=dict(templates=None), backbone=dict(init_cfg=None))
