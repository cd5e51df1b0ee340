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
    '../../_base_/datasets/kvasir_mics_finetune_iter.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-1000it.py',
    '../../_base_/default_runtime_iter.py',
]
