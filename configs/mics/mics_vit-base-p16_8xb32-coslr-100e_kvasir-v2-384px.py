# MICS pre-training, ViT-B/16 at 384 px on Kvasir v2 (8,000 images).
# Recipe on Kvasir v2 at 8 GPUs (5,600 training images):
#   python tools/analysis/recipe_report.py configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-v2-384px.py \
#       --gpus 8 --num-images 5600
# 2,200 optimizer steps (22 an epoch, 100 passes), a 100-iteration lr
# warm-up and alpha ramp.
_base_ = './mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'

data_root = 'data/kvasir-v2/'
train_dataloader = dict(dataset=dict(data_root=data_root))
