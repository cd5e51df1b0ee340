"""The learning check on real images: MICS, SimCLR, BYOL, MoCo v3 and
random init on Fashion-MNIST, each pre-trained under one budget, scored by
kNN and linear probe on the 10,000 test images and fine-tuned at 1 % of
the labels, over several seeds.

The data is Debian's ``dataset-fashion-mnist`` package (70,000 real
28 x 28 images under ``/usr/share/datasets/fashion-mnist``); without it the
check says so and exits with status 0 (nothing is downloaded)::

    apt-get install dataset-fashion-mnist
    python tools/benchmark/fashion_mnist_check.py --out work_dirs/bench/fashion_mnist

writes ``<out>/results.json`` and ``<out>/results.md`` (mean +- std over
the seeds, the budgets, the machine, the verdict). ``--resume
--finetune-config CONFIG`` on the same ``--out`` re-runs only the
fine-tuning with another config (``results-<config>.json``). ``--quick`` is a
minutes-long smoke run (one seed, a few iterations, 2,000 / 1,000 images),
not the figures. The protocol, the configs and the figures are in
docs/benchmarks.md; the code is :mod:`mics_mm.benchmark.fashion_mnist`.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mics_mm.benchmark.fashion_mnist import PRETRAIN
    from mics_mm.datasets.fashion_mnist import FASHION_MNIST_ROOT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default=FASHION_MNIST_ROOT,
                        help='folder of the idx files (default: Debian\'s)')
    parser.add_argument('--methods', nargs='+', default=list(PRETRAIN),
                        choices=list(PRETRAIN))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--pretrain-iters', type=int,
                        help='override the configs\' pre-training '
                        'iterations (not for the figures)')
    parser.add_argument('--finetune-iters', type=int,
                        help='override the fine-tuning iterations')
    parser.add_argument('--num-train', type=int,
                        help='use the first N training images only')
    parser.add_argument('--num-test', type=int,
                        help='use the first N test images only')
    parser.add_argument('--bank-size', type=int, default=10000,
                        help='the first N training images are the kNN bank '
                        'and the linear probe\'s training set (default '
                        '10,000; 0: all 60,000)')
    parser.add_argument('--finetune-config', default=None,
                        help='another fine-tuning config (default: '
                        'mics_mm.benchmark.fashion_mnist.FINETUNE); with '
                        '--resume on an earlier --out only the fine-tuning '
                        'runs again')
    parser.add_argument('--pretrain-cfg-options', nargs='+',
                        action=DictAction, default=None,
                        help='KEY=VALUE overrides of every pre-training '
                        'config, as tools/train.py --cfg-options (ablations; '
                        'use another --out)')
    parser.add_argument('--no-finetune', action='store_true',
                        help='score kNN and the linear probe only '
                        '(ablations of the pre-training)')
    parser.add_argument('--quick', action='store_true',
                        help='smoke run: seed 0, 10 + 10 iterations, 2,000 '
                        'training and 1,000 test images')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--resume', action='store_true',
                        help='reuse the finished jobs under --out')
    parser.add_argument('--overwrite', action='store_true',
                        help='run every job again')
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error('--resume and --overwrite exclude each other')
    if args.quick:
        for key, value in dict(seeds=None, pretrain_iters=10,
                               finetune_iters=10, num_train=2000,
                               num_test=1000).items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.seeds == [0, 1, 2]:
            args.seeds = [0]
    return args


def main(argv: Optional[List[str]] = None) -> Optional[dict]:
    args = parse_args(argv)
    from mics_mm.benchmark.fashion_mnist import (check_markdown,
                                                 data_available, run_check)
    if not data_available(args.data):
        print(f'[fashion_mnist_check] skipped: no Fashion-MNIST idx files '
              f'under {args.data}. Install Debian\'s package '
              '(apt-get install dataset-fashion-mnist) or pass --data DIR '
              'with train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte'
              '(.gz), t10k-images-idx3-ubyte(.gz) and '
              't10k-labels-idx1-ubyte(.gz).', flush=True)
        return None
    os.makedirs(args.out, exist_ok=True)
    command = 'python tools/benchmark/fashion_mnist_check.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    result = run_check(
        ROOT, args.out, data=args.data, methods=args.methods,
        seeds=args.seeds, pretrain_iters=args.pretrain_iters,
        finetune_iters=args.finetune_iters, num_train=args.num_train,
        num_test=args.num_test, bank_size=args.bank_size or None,
        **({} if args.finetune_config is None else dict(
            finetune_config=osp.relpath(osp.abspath(args.finetune_config),
                                        ROOT))),
        pretrain_options=args.pretrain_cfg_options,
        finetune=not args.no_finetune, resume=args.resume,
        overwrite=args.overwrite, command=command)
    text = check_markdown(result)
    # results.json, or results-<config>.json for another fine-tuning config
    name = 'results' + ('' if args.finetune_config is None else '-' + osp.
                        splitext(osp.basename(args.finetune_config))[0])
    with open(osp.join(args.out, name + '.json'), 'w') as f:
        json.dump(result, f, indent=1)
    with open(osp.join(args.out, name + '.md'), 'w') as f:
        f.write(text)
    print(text)
    print(f'[fashion_mnist_check] done in {result["seconds"]:.0f} s: '
          f'{osp.join(args.out, name + ".json")}')
    return result


if __name__ == '__main__':
    main()
