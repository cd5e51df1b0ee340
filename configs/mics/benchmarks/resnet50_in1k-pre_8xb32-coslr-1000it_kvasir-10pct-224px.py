# Fine-tune ResNet-50 encoders initialised from mmpretrain's released
# ImageNet-1k weights (resnet50_8xb32_in1k; downloaded into the torch hub
# cache on the first run) on Kvasir with 10 % of the labels: the
# supervised-ImageNet baseline of the MICS fine-tuning (a checkpoint of
# configs/mics/mics_resnet50_in1k-pre_8xb32-coslr-100e_kvasir-224px.py
# fine-tunes with resnet50_mics-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py
# and model.pretrained=...). Every 'backbone.*' tensor of the checkpoint
# loads onto each modality's ResNet (tests/test_configs_imagenet_init.py).
# Schedule of resnet50_mics-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py:
#   python tools/analysis/recipe_report.py \
#       configs/mics/benchmarks/resnet50_in1k-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py \
#       --gpus 8 --num-images 280
# 1,000 optimizer steps of full batches, a 100-iteration warm-up, the
# distribution-shift ramp over 1,000 iterations.
_base_ = './resnet50_mics-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py'

model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone.')))
