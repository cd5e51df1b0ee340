# MICS pre-training, ViT-B/16 at 384 px on Kvasir (8 GPUs x 32).
_base_ = [
    '../_base_/models/mics_vit-base-p16.py',
    '../_base_/datasets/kvasir_mics-384px.py',
    '../_base_/schedules/mics_adamw-coslr-100e.py',
    '../_base_/default_runtime.py',
]
