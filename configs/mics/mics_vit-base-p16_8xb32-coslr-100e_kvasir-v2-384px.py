# MICS pre-training, ViT-B/16 at 384 px on Kvasir v2 (8,000 images).
_base_ = './mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'

data_root = 'data/kvasir-v2/'
train_dataloader = dict(dataset=dict(data_root=data_root))
