# Linear probe of a SimCLR ResNet-50 encoder
# (../simclr_resnet50_8xb32-coslr-100e_kvasir-224px.py)
# on Kvasir at 224 px with 10 % of the labels:
#   --cfg-options model.pretrained=work_dirs/simclr_resnet50_8xb32-coslr-100e_kvasir-224px/epoch_100.pth
# Other fractions: train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
# Exactly the MICS linear probe it inherits (frozen encoders of both
# modalities, a linear classifier on their concatenated features, no
# distribution-shift head, AdamW 1e-3 without weight decay, 1,000
# iterations of 8 x 32; that config says why), so that only the encoder
# differs.
# SimCLR keeps its encoder under `backbone.` (a SyncBN ResNet-50: the
# same weights and BN statistics as the BN ResNet-50 here).
# On Kvasir v1 at 8 x 32 (10 %: 280 images):
#   python tools/analysis/recipe_report.py \
#       configs/baselines/benchmarks/resnet50_simclr-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py \
#       --gpus 8 --num-images 280
# gives 1,000 optimizer steps (914 passes over the 280 images), a
# 100-iteration lr warm-up, AdamW lr 1e-3 at 256, no warnings.
_base_ = '../../mics/benchmarks/resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py'
