# Kvasir v2 variant of the ViT-B/16 fine-tuning.
_base_ = './vit-base-p16_mics-pre_8xb32-coslr-50e_kvasir-10pct-384px.py'
data_root = 'data/kvasir-v2/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
