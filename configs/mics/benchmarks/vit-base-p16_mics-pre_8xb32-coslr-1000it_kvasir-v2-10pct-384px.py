# Kvasir v2 variant of the ViT-B/16 fine-tuning: the same 1,000 iterations
# of full batches (10 %: 560 of Kvasir v2's 5,600 training images;
# python tools/analysis/recipe_report.py configs/mics/finetune_kvasir_v2.py
# --gpus 8 --num-images 560: 1,000 optimizer steps, 457 passes over the
# images, a 100-iteration warm-up, the distribution-shift ramp over 1,000).
_base_ = './vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py'
data_root = 'data/kvasir-v2/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
