# MICS pre-training of ResNet-50 at 224 px on Kvasir, starting from
# mmpretrain's released ImageNet-1k weights (resnet50_8xb32_in1k, 76.55 %
# top-1) instead of a random encoder; downloaded (98 MiB) into the torch hub
# cache on the first run. Otherwise mics_resnet50_8xb32-coslr-100e_kvasir-
# 224px.py: 100 epochs, on Kvasir v1 at 8 x 32
#   python tools/analysis/recipe_report.py \
#       configs/mics/mics_resnet50_in1k-pre_8xb32-coslr-100e_kvasir-224px.py \
#       --gpus 8 --num-images 2800
# 1,100 optimizer steps (11 an epoch), a 100-iteration lr warm-up and alpha
# ramp; continued from ImageNet features rather than learnt from scratch.
# Every tensor of the checkpoint's 'backbone.*' loads onto MaskedResNet
# (tests/test_configs_imagenet_init.py); MaskedResNet's one extra
# parameter, mask_token (1 x 3 x 1 x 1, the masked pixels' value), keeps
# its N(0, 0.02) init. The ImageNet mean / std of the data config are the
# released weights' own.
_base_ = './mics_resnet50_8xb32-coslr-100e_kvasir-224px.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone.')))
