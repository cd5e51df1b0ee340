# BrainMVP downstream segmentation of BraTS 2021 from scratch, the release's
# recipe (docs/methods.md, "BrainMVP: downstream"): UniFormer-S + UNETR
# decoder with deep supervision, regions WT / TC / ET, 0.7 Dice + 0.3 BCE,
# 96^3 patches, Adam lr 3e-4 wd 1e-4, cosine over 300 epochs, sliding-window
# testing (overlap 0.5), BraTS Dice / HD95 per case.
# 8 GPUs x 2 patches: on BraTS 2021's 1,251 training cases that is
# 1251 // 16 = 78 optimizer steps an epoch (drop_last), x 300 epochs =
# 23,400 steps and 374,400 patches; no warm-up. (The release trains on one
# GPU at batch 2: 625 steps an epoch, 187,500 steps, the same lr; with the
# 70 % training split of tools/data/make_mri_splits.py, 876 cases, it is
# 54 steps an epoch here, 16,200 steps.)
#   bash tools/dist_train.sh <this config> 8
_base_ = [
    '../../_base_/models/uniformer-s_unetr_3d.py',
    '../../_base_/datasets/brats_seg_3d.py',
    '../../_base_/schedules/seg3d_adam-coslr-300e.py',
    '../../_base_/default_runtime.py',
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=5, max_keep_ckpts=2, save_best='mDice',
                    rule='greater'))
auto_scale_lr = dict(base_batch_size=16)
