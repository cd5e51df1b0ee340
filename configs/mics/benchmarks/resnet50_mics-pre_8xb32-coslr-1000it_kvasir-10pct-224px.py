# Fine-tune a MICS ResNet-50 encoder on Kvasir with 10 % of the labels.
_base_ = [
    '../../_base_/models/mics_finetune_resnet50.py',
    '../../_base_/datasets/kvasir_mics_finetune.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-50e.py',
    '../../_base_/default_runtime.py',
]
