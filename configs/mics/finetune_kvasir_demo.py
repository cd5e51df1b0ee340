# Alias: the fine-tuning config that `make demo` runs (SYNTHETIC data).
_base_ = './benchmarks/resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py'
