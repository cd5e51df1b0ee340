# Alias: `python tools/train.py configs/brainmvp/pretrain_brats.py` reads
# data/brats/ (re-point with
# --cfg-options train_dataloader.dataset.data_root=DIR).
_base_ = './brainmvp_uniformer-s_8xb2-coslr-1500e_brats-96px.py'
