# Alias: the config that `make demo` trains (SYNTHETIC demo data).
_base_ = './mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
