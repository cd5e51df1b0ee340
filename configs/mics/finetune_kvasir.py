# Alias: fine-tune the encoder of configs/mics/pretrain_kvasir.py (ViT-B/16,
# 384 px) on Kvasir at 10 % labels. Settable from --cfg-options:
#   model.pretrained=work_dirs/pretrain_kvasir/epoch_100.pth
#   train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
_base_ = './benchmarks/vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py'
