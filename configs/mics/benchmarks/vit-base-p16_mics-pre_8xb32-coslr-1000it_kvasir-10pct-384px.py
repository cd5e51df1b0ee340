# Fine-tune a MICS ViT-B/16 encoder on Kvasir with 10 % of the labels:
#   --cfg-options model.pretrained=work_dirs/<pretrain>/epoch_100.pth
_base_ = [
    '../../_base_/models/mics_finetune_vit-base-p16.py',
    '../../_base_/datasets/kvasir_mics_finetune-384px.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-50e.py',
    '../../_base_/default_runtime.py',
]
