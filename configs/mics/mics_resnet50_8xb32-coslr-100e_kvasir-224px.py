# MICS pre-training, ResNet-50 at 224 px on Kvasir (8 GPUs x 32).
_base_ = [
    '../_base_/models/mics_resnet50.py',
    '../_base_/datasets/kvasir_mics.py',
    '../_base_/schedules/mics_adamw-coslr-100e.py',
    '../_base_/default_runtime.py',
]
