# Weighted kNN accuracy of a MoCo v3 ViT-B/16 encoder (../mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py) on
# Kvasir: k = 20 nearest neighbours by cosine similarity, votes weighted
# exp(sim / 0.07) (InstDisc / DINO); the labelled train split is the memory
# bank, the test split is classified, each image resized to 384 px; the
# features are those of the WLI images (the real ones; NBI is simulated on
# Kvasir). No training:
#   python tools/analysis/knn_eval.py \
#       configs/baselines/benchmarks/vit-base-p16_mocov3-pre_knn-k20_kvasir-384px.py \
#       work_dirs/mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px/epoch_100.pth --out knn.json
# tools/analysis/knn_eval.py takes its settings from `knn_eval` below (a
# flag given on its command line overrides one) and the data root from the
# config (data/kvasir/; --data-root DIR re-points it). The model is the
# pre-training config's; only its `backbone.` weights are read.
_base_ = '../mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'
knn_eval = dict(
    k=20,
    temperature=0.07,
    train_split='splits/train.json',
    test_split='splits/test.json',
    batch_size=64,
    modality='wli')
