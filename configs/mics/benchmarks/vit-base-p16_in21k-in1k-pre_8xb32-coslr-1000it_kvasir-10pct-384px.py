# Fine-tune ViT-B/16 encoders initialised from mmpretrain's released
# ImageNet weights (vit-base-p16_in21k-pre_3rdparty_in1k-384px; downloaded
# into the torch hub cache on the first run) on Kvasir with 10 % of the
# labels: the supervised-ImageNet baseline of the MICS fine-tuning, and the
# fine-tuning of a checkpoint of
# configs/mics/mics_vit-base-p16_in21k-in1k-pre_8xb32-coslr-100e_kvasir-384px.py
# (--cfg-options model.pretrained=work_dirs/<pretrain>/epoch_100.pth loads
# over the ImageNet weights), with the inputs scaled to [-1, 1] as both
# were trained. Every 'backbone.*' tensor of the checkpoint loads onto each
# modality's VisionTransformer (tests/test_configs_imagenet_init.py).
# Schedule of vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py:
#   python tools/analysis/recipe_report.py \
#       configs/mics/benchmarks/vit-base-p16_in21k-in1k-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py \
#       --gpus 8 --num-images 280
# 1,000 optimizer steps of full batches, a 100-iteration warm-up, the
# distribution-shift ramp over 1,000 iterations.
_base_ = './vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'vit/finetune/vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_'
            '20210928-98e8652b.pth',
            prefix='backbone.')))
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5])
