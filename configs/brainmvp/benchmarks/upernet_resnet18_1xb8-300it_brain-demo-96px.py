# Tissue segmentation of the demo brain set from scratch (mmseg
# EncoderDecoder, ResNet-18 + UPerNet, 96 x 96 crops of axial slices, 300
# iterations; whole slices at test): the baseline of the
# BrainMVP-pre-trained config.
_base_ = [
    '../../_base_/models/upernet_resnet18_mri.py',
    '../../_base_/datasets/brain_demo_seg.py',
    '../../_base_/schedules/seg_adamw-poly-300it.py',
    '../../_base_/seg_runtime.py',
]
