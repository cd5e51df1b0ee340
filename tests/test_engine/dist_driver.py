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
from mmengine.config import Config

import mics_mm  # noqa: F401
from mics_mm.engine.wrappers.distributed import \
    MultiForwardDistributedDataParallel
from mics_mm.models.selfsup.brainmvp import BrainMVP
from mmpretrain.models.selfsup.mae import MAEViT
# run as a script: its folder (tests/test_engine) is first on sys.path
import reliability_helpers as rh
from mics_mm.engine.runner import finish_distributed


MASKS = []
WRAPPERS = []


def _record_masks() -> None:
    """Keep every random mask the models draw (BrainMVP's block masks,
    MAEViT's token masks), in drawing order."""
    draw_blocks, draw_tokens = BrainMVP._masks, MAEViT.random_masking

    def blocks(self, *args, **kwargs):
        mask = draw_blocks(self, *args, **kwargs)
        MASKS.append(mask.detach().cpu().clone())
        return mask

    def tokens(self, *args, **kwargs):
        out = draw_tokens(self, *args, **kwargs)
        MASKS.append(out[1].detach().cpu().clone())
        return out

    BrainMVP._masks, MAEViT.random_masking = blocks, tokens


def _record_wrappers() -> None:
    """Keep each built DDP wrapper's ``broadcast_buffers``."""
    init = MultiForwardDistributedDataParallel.__init__

    def record(self, *args, **kwargs):
        init(self, *args, **kwargs)
        WRAPPERS.append(bool(self.broadcast_buffers))

    MultiForwardDistributedDataParallel.__init__ = record


def main() -> None:
    _record_masks()
    _record_wrappers()
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
        # the configs' own seeding: every rank its own masks ...
        'mics_masked': (cfg['mics_masked'], ['train_cfg.max_epochs=1'], []),
        # ... and the control: one seed for all ranks, identical masks
        'brainmvp_same_seed': (cfg['brainmvp_masked'], [
            'train_cfg.max_epochs=1', 'randomness.diff_rank_seed=False'
        ], []),
    }
    for name, (config, options, extra) in runs.items():
        MASKS.clear()
        WRAPPERS.clear()
        result = rh.train_and_record(
            config,
            osp.join(out, f'work_{name}'),
            ['train_dataloader.batch_size=4', *options],
            launcher='pytorch',
            extra_args=extra)
        result['masks'] = list(MASKS)
        # what the config chain asks for (CPU runs force False whatever
        # it says) and what the built wrapper does
        wrapper_cfg = Config.fromfile(config).get('model_wrapper_cfg') or {}
        result['config_broadcast_buffers'] = wrapper_cfg.get(
            'broadcast_buffers', True)
        result['wrapper_broadcast_buffers'] = list(WRAPPERS)
        torch.save(result, osp.join(out, f'{name}_rank{rank}.pt'))
    finish_distributed()


if __name__ == '__main__':
    main()
