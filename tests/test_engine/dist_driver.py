"""Run under torchrun (2 gloo processes) by test_distributed_equivalence.py.

Each run goes through tools/train.py's own config handling (``--launcher
pytorch``: gloo and CPU DDP set up by ``SafeRunner``) with a per-rank batch of 4
(global 8); every rank writes its logged values per iteration and its final
state dict to ``OUT/<run>_rank<r>.pt``. All runs share one process group
(started by the first runner, ended here).

Usage: torchrun --nproc_per_node 2 dist_driver.py OUT KVASIR
(the configs are written to OUT by ``write_equivalence_configs`` first).
"""
import os
import os.path as osp
import sys

import torch

import mics_mm  # noqa: F401
# run as a script: its folder (tests/test_engine) is first on sys.path
import reliability_helpers as rh
from mics_mm.engine.runner import finish_distributed


def main() -> None:
    out, kvasir = sys.argv[1:3]
    rank = int(os.environ['RANK'])
    cfg = rh.equivalence_config_paths(out)
    runs = {
        'mics': (cfg['mics'], [], []),
        'brainmvp': (cfg['brainmvp'], [], []),
        'brainmvp_masked': (cfg['brainmvp_masked'],
                            ['train_cfg.max_epochs=1'], []),
        'finetune': (str(rh.FINETUNE), rh.finetune_options(kvasir),
                     ['--no-validate']),
    }
    for name, (config, options, extra) in runs.items():
        result = rh.train_and_record(
            config,
            osp.join(out, f'work_{name}'),
            ['train_dataloader.batch_size=4', *options],
            launcher='pytorch',
            extra_args=extra)
        torch.save(result, osp.join(out, f'{name}_rank{rank}.pt'))
    finish_distributed()


if __name__ == '__main__':
    main()
