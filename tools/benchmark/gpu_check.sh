#!/usr/bin/env bash
# One prepared check for a session that is lent a GPU (one GPU, e.g. an
# H200; about 3-5 minutes there, under 8), writing OUT_DIR/gpu_check.json
# and OUT_DIR/gpu_check.md:
#
#   0. CUDA must work: torch sees a GPU, a matmul runs on it, NCCL is
#      there; otherwise stop at once (exit 2) naming the torch build, its
#      CUDA version and the driver. Never a CPU fallback.
#   1. AMP step time and peak memory, batch 32 per GPU: MICS ViT-B/16 at
#      384 px beside MAE and MoCo v3; MICS ResNet-50 at 224 px beside
#      SimCLR and BYOL (tools/benchmark/gpu_timing.py).
#   2. a one-process NCCL `tools/dist_train.sh CONFIG 1 --amp` run of the
#      MICS demo config, shrunk to one short epoch on SYNTHETIC demo data;
#   3. a one-epoch fine-tune (`tools/train.py --amp`) from that checkpoint
#      and `tools/test.py` with fp16 autocast (`test_cfg.fp16=True`);
#   4. mmpretrain's packaged `tools/train.py --amp` on the same MICS config
#      (two optimizer wrappers: PartwiseOptimWrapperConstructor gives the
#      top-level AmpOptimWrapper to both).
#
# --smoke: the same steps on the CPU, so CI exercises the script (about
# 2-4 minutes on 2 shared cores, mostly the 8 Python start-ups): tiny
# shapes for step 1, gloo for step 2,
# no AMP in training (mmengine 0.10.7's AmpOptimWrapper needs an
# accelerator), bf16 autocast in testing (what `test_cfg.fp16=True` gives
# on a CPU), and step 4 must stop with mmengine's "only available training
# on gpu" after our constructor applied the top-level AmpOptimWrapper. The
# smoke figures say nothing about speed.
#
# Usage: [PYTHON=python] bash tools/benchmark/gpu_check.sh OUT_DIR [--smoke]
# Exit status: 0 all checks passed; 1 a check failed (named in the report
# and on stderr); 2 CUDA unusable (GPU mode).
set -uo pipefail

usage="usage: bash tools/benchmark/gpu_check.sh OUT_DIR [--smoke]"
OUT=${1:?$usage}
MODE=gpu
case "${2:-}" in
    '') ;;
    --smoke) MODE=smoke ;;
    *) echo "$usage" >&2; exit 64 ;;
esac
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
mkdir -p "$OUT/logs" "$OUT/work" || exit 1
OUT=$(cd "$OUT" && pwd)
: > "$OUT/steps.tsv"
# seconds a step may take (a hung step must not eat a GPU session)
if [ "$MODE" = gpu ]; then
    STEP_TIMEOUT=${GPU_CHECK_STEP_TIMEOUT:-240}
else
    STEP_TIMEOUT=${GPU_CHECK_STEP_TIMEOUT:-600}
fi

if [ "$MODE" = gpu ]; then
    # the runs must not be allowed onto the CPU (SafeRunner would raise
    # DeviceUnusableError on a broken GPU; this check says so first)
    unset MICS_MM_ALLOW_CPU
else
    export CUDA_VISIBLE_DEVICES=''   # the CPU on purpose: SafeRunner, gloo
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
fi

echo "== gpu_check ($MODE): device"
if [ "$MODE" = gpu ]; then
    "$PYTHON" -c 'import sys, torch
print("torch", torch.__version__, "built for CUDA", torch.version.cuda)
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch %s (built for CUDA %s) cannot use a GPU"
             % (torch.__version__, torch.version.cuda))' || {
        nvidia-smi --query-gpu=driver_version,name --format=csv 2>&1 || true
        echo "gpu_check: CUDA is not usable; stopping (no CPU fallback)" >&2
        exit 2
    }
fi
# environment.json (driver, NCCL, a matmul on the GPU) and the SYNTHETIC
# demo data the runs train on (8 classes x 4 images, 64 px, with splits)
"$PYTHON" -m mics_mm.benchmark.gpu_check device "$OUT" --mode "$MODE" \
    --per-class 4 --size 64 > "$OUT/logs/device.log" 2>&1
rc=$?
cat "$OUT/logs/device.log"
if [ $rc -ne 0 ]; then
    echo "gpu_check: device check failed (exit status $rc)" >&2
    exit 2
fi
DATA=$OUT/data

# run_step NAME COMMAND...: run it, log to logs/NAME.log, record
# name / exit status / seconds / command in steps.tsv
run_step() {
    local name=$1
    shift
    echo "== gpu_check ($MODE): $name: $*"
    local start end rc
    start=$(date +%s.%N)
    timeout "$STEP_TIMEOUT" "$@" > "$OUT/logs/$name.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    printf '%s\t%d\t%s\t%s\n' "$name" "$rc" \
        "$(echo "$end - $start" | bc)" "$*" >> "$OUT/steps.tsv"
    if [ $rc -ne 0 ]; then
        echo "   exit status $rc; last lines of logs/$name.log:"
        tail -n 15 "$OUT/logs/$name.log" | sed 's/^/   | /'
    fi
    return 0
}

port() {
    "$PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "$MODE" = gpu ]; then
    TIMING=(--device cuda --amp)
    AMP=(--amp)
else
    TIMING=(--device cpu --smoke)
    AMP=()
fi

# 1. step time and memory
run_step timing "$PYTHON" tools/benchmark/gpu_timing.py "${TIMING[@]}" \
    --out "$OUT/timing.json"

# 2. one-process tools/dist_train.sh (NCCL on a GPU, gloo on the CPU)
PRE_CONFIG=configs/mics/pretrain_kvasir_demo.py
PRE_OPTS=(
    "train_dataloader.dataset.data_root=$DATA"
    train_dataloader.batch_size=8 train_dataloader.num_workers=0
    train_dataloader.persistent_workers=False train_cfg.max_epochs=1
    default_hooks.checkpoint.interval=1 default_hooks.logger.interval=1
    model.head.queue_size=24
)
run_step pretrain_dist env PYTHON="$PYTHON" PORT="$(port)" \
    bash tools/dist_train.sh "$PRE_CONFIG" 1 \
    --work-dir "$OUT/work/pretrain_dist" "${AMP[@]}" \
    --cfg-options "${PRE_OPTS[@]}"
PRETRAINED=$OUT/work/pretrain_dist/epoch_1.pth
[ -f "$PRETRAINED" ] || PRETRAINED=None

# 3. fine-tune from it, then test with autocast
FT_CONFIG=configs/mics/finetune_kvasir_demo.py
DATA_OPTS=()
for loader in train_dataloader val_dataloader test_dataloader; do
    DATA_OPTS+=("$loader.dataset.data_root=$DATA"
                "$loader.num_workers=0" "$loader.persistent_workers=False")
done
run_step finetune "$PYTHON" tools/train.py "$FT_CONFIG" \
    --work-dir "$OUT/work/finetune" "${AMP[@]}" --cfg-options \
    "${DATA_OPTS[@]}" train_dataloader.dataset.ann_file=splits/train.json \
    train_cfg.max_epochs=1 train_cfg.val_interval=1 \
    default_hooks.checkpoint.interval=1 default_hooks.logger.interval=1 \
    "model.pretrained=$PRETRAINED"
run_step test "$PYTHON" tools/test.py "$FT_CONFIG" \
    "$OUT/work/finetune/epoch_1.pth" --work-dir "$OUT/work/finetune" \
    --out "$OUT/work/finetune/test_metrics.json" \
    --cfg-options "${DATA_OPTS[@]}" test_cfg.fp16=True

# 4. mmpretrain's packaged train.py --amp with MICS's two optimizers
PACKAGED=$("$PYTHON" -c 'import importlib.util as u, os.path as p
print(p.join(p.dirname(u.find_spec("mmpretrain").origin), ".mim", "tools",
             "train.py"))')
run_step packaged_amp env PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" "$PACKAGED" "$PRE_CONFIG" --amp \
    --work-dir "$OUT/work/packaged_amp" --cfg-options "${PRE_OPTS[@]}"

echo "== gpu_check ($MODE): report"
"$PYTHON" -m mics_mm.benchmark.gpu_check report "$OUT" --mode "$MODE" \
    > "$OUT/logs/report.log" 2>&1
rc=$?
cat "$OUT/logs/report.log"
if [ $rc -ne 0 ]; then
    echo "gpu_check: FAILED (see $OUT/gpu_check.md and $OUT/logs/)" >&2
    exit 1
fi
echo "gpu_check: passed; $OUT/gpu_check.json, $OUT/gpu_check.md"
