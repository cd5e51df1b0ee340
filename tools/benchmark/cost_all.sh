#!/usr/bin/env bash
# Every cost figure of docs/benchmarks.md §3, one command after another:
# per-method cost with memory for the three groups, then the batch / size
# sweeps. Run from the repository root on a quiet machine:
#   bash tools/benchmark/cost_all.sh [OUT_DIR]   (default work_dirs/bench/cost)
# Each run writes OUT_DIR/<name>.json, .md (and the sweep .png).
set -euo pipefail
PY=${PYTHON:-python}
OUT=${1:-work_dirs/bench/cost}
SPEED="$PY tools/benchmark/pretrain_speed.py"
mkdir -p "$OUT"
$SPEED --backbone resnet18 --size 64 --batch 16 --memory --out "$OUT/resnet18.json"
$SPEED --backbone vit-tiny --size 64 --batch 16 --memory --out "$OUT/vit-tiny.json"
$SPEED --backbone mri-vit-tiny --size 96 --batch 16 --memory --out "$OUT/mri-vit-tiny.json"
SWEEP="--rounds 3 --iters 2 --loader-batches 0 --sweep-batch 8 16 32"
$SPEED --backbone resnet18 --size 64 --batch 16 $SWEEP --sweep-size 32 64 96 \
    --plot "$OUT/resnet18_sweep.png" --out "$OUT/resnet18_sweep.json"
$SPEED --backbone vit-tiny --size 64 --batch 16 $SWEEP --sweep-size 32 64 96 \
    --plot "$OUT/vit-tiny_sweep.png" --out "$OUT/vit-tiny_sweep.json"
$SPEED --backbone mri-vit-tiny --size 96 --batch 16 $SWEEP --sweep-size 64 96 128 \
    --plot "$OUT/mri-vit-tiny_sweep.png" --out "$OUT/mri-vit-tiny_sweep.json"
