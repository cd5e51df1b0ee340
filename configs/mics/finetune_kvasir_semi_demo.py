# Alias: semi-supervised fine-tuning on the SYNTHETIC demo data.
_base_ = './benchmarks/resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-semi-64px.py'
