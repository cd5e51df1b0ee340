# MICS pre-training of ViT-B/16 at 384 px on Kvasir, starting from
# mmpretrain's released ImageNet weights (vit-base-p16_in21k-pre_3rdparty_
# in1k-384px: ImageNet-21k pre-trained, ImageNet-1k fine-tuned at 384 px,
# 85.43 % top-1) instead of a random encoder; downloaded (330 MiB) into the
# torch hub cache on the first run. Otherwise mics_vit-base-p16_8xb32-
# coslr-100e_kvasir-384px.py: 100 epochs, on Kvasir v1 at 8 x 32
#   python tools/analysis/recipe_report.py \
#       configs/mics/mics_vit-base-p16_in21k-in1k-pre_8xb32-coslr-100e_kvasir-384px.py \
#       --gpus 8 --num-images 2800
# 1,100 optimizer steps (11 an epoch), a 100-iteration lr warm-up and alpha
# ramp; continued from ImageNet features rather than learnt from scratch.
# Every backbone tensor of the checkpoint ('backbone.*') loads onto the
# MAEViT encoder (tests/test_configs_imagenet_init.py); its 'head.*' (the
# ImageNet classifier) is unused and logged as unexpected, and the MICS
# parts (necks, heads, decoder, discriminator) start as usual. The learnt
# position embedding replaces MAEViT's fixed sin-cos one and stays frozen
# (MAEViT keeps pos_embed out of training).
# The init is the model's, not the backbone's: MAEViT.init_weights redraws
# cls_token, pos_embed and patch_embed.projection.weight after a backbone
# 'Pretrained' init has loaded them, while mmengine applies a model-level
# 'Pretrained' init after every child's init_weights.
_base_ = './mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'

model = dict(
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/vit/'
        'finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_'
        '20210928-98e8652b.pth'))
# The released weights were trained on inputs scaled to [-1, 1]
# (mmpretrain's vit-base-p16_64xb64_in1k-384px.py), not ImageNet's mean / std.
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
