# Alias: `python tools/train.py configs/mics/pretrain_kvasir.py`.
# MICS pre-training as in the paper's public code (ViT-B/16, 384 px),
# reading data/kvasir/ (re-point with
# --cfg-options train_dataloader.dataset.data_root=DIR).
_base_ = './mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'
