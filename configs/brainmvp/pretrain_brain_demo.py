# Alias: BrainMVP 2D pre-training on the demo brain set (reads
# data/brain_demo/, made by tools/data/make_brain_demo.py).
_base_ = './brainmvp_resnet18_1xb16-coslr-20e_brain-demo-2d-96px.py'
