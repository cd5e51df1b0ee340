# Linear probe of a MICS ViT-B/16 encoder on Kvasir at 384 px with 10 % of
# the labels:
#   --cfg-options model.pretrained=work_dirs/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px/epoch_100.pth
# Other fractions: train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
# Any ViT-B/16 encoder at 384 px stored under 'backbone.' loads (MoCo v3,
# MAE: configs/baselines/benchmarks/vit-base-p16_*-pre_8xb32-linear-*).
# The protocol and lr of
# resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py (frozen
# encoders in eval mode, a linear classifier on their concatenated class
# tokens, no distribution-shift head, AdamW 1e-3 without weight decay; its
# comments say why) on the ViT-B/16 fine-tuning config's data, batch and
# 1,000-iteration schedule.
# On Kvasir v1 at 8 x 32 (10 %: 280 images):
#   python tools/analysis/recipe_report.py \
#       configs/mics/benchmarks/vit-base-p16_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-384px.py \
#       --gpus 8 --num-images 280
# gives 1,000 optimizer steps (914 passes over the 280 images), a
# 100-iteration lr warm-up, AdamW lr 1e-3 at 256 (x1 with --auto-scale-lr),
# no ramp, no warnings; validation and a checkpoint every 100 iterations.
_base_ = './vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py'
model = dict(
    freeze_encoders=True,
    modality_dropout=0.0,
    neck=dict(_delete_=True, type='MICSFusionNeck', mode='concat',
              in_channels=768),
    head=dict(
        _delete_=True,
        type='LinearClsHead',
        num_classes=8,
        in_channels=1536,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.0))
# No distribution-shift head: no lambda ramp.
custom_hooks = [dict(type='RandomStateHook')]
# Frozen encoders, no modality dropout: every trainable parameter (the
# head) gets a gradient at every step.
find_unused_parameters = False
