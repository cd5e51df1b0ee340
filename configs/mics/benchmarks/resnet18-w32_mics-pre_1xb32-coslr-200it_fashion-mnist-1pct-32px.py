# Fine-tuning of the Fashion-MNIST learning check
# (tools/benchmark/fashion_mnist_check.py): the MICS multimodal classifier
# (one encoder per modality, image and gradient magnitude, both initialised
# from --cfg-options model.pretrained=CKPT, MICS or any baseline with
# 'backbone.' keys; None = from scratch), the default fine-tuning recipe
# (mics_finetune_adamw-coslr-50e.py's AdamW, warm-up, cosine, the
# distribution-shift ramp) on 1 % of the labels (600 images), batch 32,
# 200 iterations (11 passes), tested on the 10,000 test images.
_base_ = [
    '../../_base_/models/mics_finetune_resnet50.py',
    '../../_base_/datasets/fashion_mnist_finetune-32px.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-1000it.py',
    '../../_base_/default_runtime_iter.py',
]
max_iters = 200
warmup_iters = 20

model = dict(
    modalities=('image', 'gradient'),
    backbone=dict(depth=18, base_channels=32, stem_channels=32),
    neck=dict(in_channels=256, embed_dims=128, num_heads=4),
    head=dict(num_classes=10, in_channels=128))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False,
         begin=warmup_iters, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_best=None))
log_processor = dict(window_size=50)
