# Fine-tune a MICS ResNet-50 encoder on Kvasir with 10 % of the labels:
#   --cfg-options model.pretrained=work_dirs/<pretrain>/epoch_100.pth
# 1,000 iterations of full batches at any fraction (SeededInfiniteSampler over the
# labelled subset; mics_finetune_adamw-coslr-1000it.py). On Kvasir v1 at
# 8 x 32 (10 %: 280 images):
#   python tools/analysis/recipe_report.py \
#       configs/mics/benchmarks/resnet50_mics-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py \
#       --gpus 8 --num-images 280
# gives 1,000 optimizer steps (914 passes over the images), a 100-iteration
# lr warm-up, the distribution-shift ramp over all 1,000 iterations,
# validation and a checkpoint every 100 iterations.
_base_ = [
    '../../_base_/models/mics_finetune_resnet50.py',
    '../../_base_/datasets/kvasir_mics_finetune.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-1000it.py',
    '../../_base_/default_runtime.py',
]
# Full batches from however few labelled images: the sampler repeats them.
train_dataloader = dict(sampler=dict(type='SeededInfiniteSampler', _scope_='mics_mm', shuffle=True))
# Iteration-based runtime: checkpoints and logs counted in iterations.
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=3,
                    save_best='accuracy', rule='greater'))
log_processor = dict(by_epoch=False)
