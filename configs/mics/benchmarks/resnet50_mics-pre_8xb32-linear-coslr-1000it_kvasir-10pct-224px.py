# Linear probe of a MICS ResNet-50 encoder on Kvasir with 10 % of the labels
# (the full-size counterpart of the demo's
# resnet18_mics-pre_1xb8-linear-coslr-30e_kvasir-demo-10pct-64px.py):
#   --cfg-options model.pretrained=work_dirs/mics_resnet50_8xb32-coslr-100e_kvasir-224px/epoch_100.pth
# Other fractions: train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
# Any ResNet-50 encoder stored under 'backbone.' loads (SimCLR / MoCo v3 /
# BYOL: configs/baselines/benchmarks/resnet50_*-pre_8xb32-linear-*).
# mmpretrain's linear-probe protocol: both modalities' encoders initialised
# from the checkpoint and frozen (eval mode, so BatchNorm keeps the
# pre-trained statistics); only a linear classifier on the concatenation of
# their pooled features trains; no distribution-shift head (so no lambda
# ramp), no modality dropout, no weight decay. Data, batch (8 x 32) and the
# 1,000-iteration schedule (100-iteration warm-up, cosine to 1e-6) of the
# fine-tuning config it inherits from.
# Learning rate (our choice): AdamW at 1e-3, ten times the fine-tuning lr,
# since only a randomly initialised head trains. mmpretrain's linear probes
# use SGD / LARS with an lr tuned per method for 90 ImageNet epochs (MoCo v3
# ResNet-50: SGD 0.4; MoCo v3 ViT-B: SGD 12; SimCLR / BYOL: LARS 1.6 at
# batch 4,096; MAE: LARS after a BatchNorm neck): an SGD step grows with the
# scale of the features, and one protocol here serves seven encoders
# (pooled ResNet maps, LayerNorm-ed ViT class tokens) for 1,000 steps.
# Adam's per-weight step does not depend on that scale, so one lr fits all.
# On Kvasir v1 at 8 x 32 (10 %: 280 images):
#   python tools/analysis/recipe_report.py \
#       configs/mics/benchmarks/resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py \
#       --gpus 8 --num-images 280
# gives 1,000 optimizer steps (914 passes over the 280 images), a
# 100-iteration lr warm-up, AdamW lr 1e-3 at 256 (x1 with --auto-scale-lr),
# no ramp, no warnings; validation and a checkpoint every 100 iterations.
_base_ = './resnet50_mics-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py'
model = dict(
    freeze_encoders=True,
    modality_dropout=0.0,
    neck=dict(_delete_=True, type='MICSFusionNeck', mode='concat',
              in_channels=2048),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=8,
        in_channels=4096,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.0))
# No distribution-shift head: no lambda ramp.
custom_hooks = [dict(type='RandomStateHook')]
# Frozen encoders, no modality dropout: every trainable parameter (the
# head) gets a gradient at every step.
find_unused_parameters = False
