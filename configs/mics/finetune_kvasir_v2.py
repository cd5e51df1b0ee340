# Alias: the Kvasir v2 variant of finetune_kvasir.py.
_base_ = './benchmarks/vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-v2-10pct-384px.py'
