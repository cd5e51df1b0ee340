# The same segmentation fine-tuned from BrainMVP pre-training, as the
# release's do_train.sh (--pretrained, --mix_template, --use_cl): the
# encoder from the checkpoint's 'backbone.' keys with the 4-channel stem
# re-initialised (stem_init='inflate' spreads the 1-channel pre-trained
# kernel instead), up to 3 of the 4 channels replaced by the checkpoint's
# modality templates per sample, and two such views per sample with
# 0.1 x the MSE of their first deep-supervision outputs.
# Optimizer steps as the scratch config: 78 an epoch on 1,251 cases at
# 8 x 2 (each step runs the network on the two views), 23,400 in all, no
# warm-up. Checkpoint (encoder and templates):
# --cfg-options model.pretrained=CKPT model.templates=CKPT
_base_ = './uniformer-s_unetr_8xb2-adam-300e_brats21-96px.py'
pretrained = 'work_dirs/pretrain_brats/epoch_1500.pth'
model = dict(
    pretrained=pretrained,
    stem_init='reinit',
    templates=pretrained,
    template_mix=True,
    feature_mse_weight=0.1)
