# Fine-tune a MICS ViT-B/16 encoder on Kvasir with 10 % of the labels:
#   --cfg-options model.pretrained=work_dirs/<pretrain>/epoch_100.pth
# Other fractions: train_dataloader.dataset.ann_file=splits/train_labeled_5pct.json
# 1,000 iterations of full batches at any fraction (SeededInfiniteSampler over the
# labelled subset; mics_finetune_adamw-coslr-1000it.py). On Kvasir v1 at
# 8 x 32 (10 %: 280 images; 5 %: 140; 100 %: 2,800):
#   python tools/analysis/recipe_report.py configs/mics/finetune_kvasir.py \
#       --gpus 8 --num-images 280
# gives 1,000 optimizer steps (914 passes over the 280 images; 91 over 2,800
# at 100 %), a 100-iteration lr warm-up, the distribution-shift ramp over
# all 1,000 iterations, validation and a checkpoint every 100 iterations
# (iter_1000.pth last).
_base_ = [
    '../../_base_/models/mics_finetune_vit-base-p16.py',
    '../../_base_/datasets/kvasir_mics_finetune-384px.py',
    '../../_base_/schedules/mics_finetune_adamw-coslr-1000it.py',
    '../../_base_/default_runtime_iter.py',
]
# Full batches from however few labelled images: the sampler repeats them.
train_dataloader = dict(
    sampler=dict(
        _delete_=True, type='SeededInfiniteSampler', _scope_='mics_mm',
        shuffle=True))
