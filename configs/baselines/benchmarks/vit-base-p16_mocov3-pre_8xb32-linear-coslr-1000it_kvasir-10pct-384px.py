# Linear probe of a MoCo v3 ViT-B/16 encoder
# (../mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py)
# on Kvasir at 384 px with 10 % of the labels:
#   --cfg-options model.pretrained=work_dirs/mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px/epoch_100.pth
# Other fractions: train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
# Exactly the MICS linear probe it inherits (frozen encoders of both
# modalities, a linear classifier on their concatenated features, no
# distribution-shift head, AdamW 1e-3 without weight decay, 1,000
# iterations of 8 x 32; that config says why), so that only the encoder
# differs.
# MoCo v3 keeps its online encoder under `backbone.` (MoCoV3ViT: the
# VisionTransformer's weights, with a fixed sin-cos position embedding that
# loads as the ViT's pos_embed).
# On Kvasir v1 at 8 x 32 (10 %: 280 images):
#   python tools/analysis/recipe_report.py \
#       configs/baselines/benchmarks/vit-base-p16_mocov3-pre_8xb32-linear-coslr-1000it_kvasir-10pct-384px.py \
#       --gpus 8 --num-images 280
# gives 1,000 optimizer steps (914 passes over the 280 images), a
# 100-iteration lr warm-up, AdamW lr 1e-3 at 256, no warnings.
_base_ = '../../mics/benchmarks/vit-base-p16_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-384px.py'
