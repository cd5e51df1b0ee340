# BYOL on the WLI images alone (two augmented views of one WLI image, the
# method's own single-modality setting) on the SYNTHETIC demo data; model,
# split, batch 32, 10 epochs and schedule as the WLI / NBI-as-views demo
# config it inherits. tools/benchmark/label_efficiency.py: `byol-wli`.
_base_ = [
    './byol_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
    '../_base_/datasets/kvasir_wli_two_views_demo.py',
]
train_pipeline = {{_base_.wli_two_views_pipeline}}
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
