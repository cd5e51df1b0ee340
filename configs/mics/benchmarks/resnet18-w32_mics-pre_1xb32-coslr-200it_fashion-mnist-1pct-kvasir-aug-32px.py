# The Fashion-MNIST fine-tuning config with the Kvasir fine-tuning
# augmentation (crop of 50-100 % of the image, flip, colour jitter) instead
# of none: the "before" of docs/benchmarks.md ("Fashion-MNIST: the
# fine-tuning recipe"), run with
#   python tools/benchmark/fashion_mnist_check.py --finetune-config THIS ...
_base_ = './resnet18-w32_mics-pre_1xb32-coslr-200it_fashion-mnist-1pct-32px.py'
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.augmented_train_pipeline}}))
