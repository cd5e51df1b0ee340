"""AMP step time and peak memory of the full-size pre-training configs on
one GPU (MICS ViT-B/16 at 384 px beside MAE and MoCo v3; MICS ResNet-50 at
224 px beside SimCLR and BYOL). See :mod:`mics_mm.benchmark.gpu_timing`.

Examples::

    python tools/benchmark/gpu_timing.py --device cuda --amp \
        --out work_dirs/gpu_check/timing.json
    python tools/benchmark/gpu_timing.py --device cpu --smoke \
        --out /tmp/timing.json   # the CPU check of the code path
"""
import sys

from mics_mm.benchmark.gpu_timing import main

if __name__ == '__main__':
    sys.exit(main())
