#!/usr/bin/env bash
# Distributed training with torchrun: one process per GPU (gloo on CPU).
# Usage: [PYTHON=python] [NNODES=1] [NODE_RANK=0] [PORT=29500] \
#        [MASTER_ADDR=127.0.0.1] bash tools/dist_train.sh CONFIG GPUS [ARGS...]
set -e

CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(dirname "$0")

PYTHONPATH="${TOOLS_DIR}/..${PYTHONPATH:+:$PYTHONPATH}" \
"${PYTHON}" -m torch.distributed.run \
    --nnodes="${NNODES}" \
    --node_rank="${NODE_RANK}" \
    --master_addr="${MASTER_ADDR}" \
    --nproc_per_node="${GPUS}" \
    --master_port="${PORT}" \
    "${TOOLS_DIR}/train.py" \
    "${CONFIG}" \
    --launcher pytorch "${@:3}"
