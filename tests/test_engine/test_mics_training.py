"""MICS through the real entry points: save + exact resume, 2-process gloo
DDP via tools/dist_train.sh, and mmpretrain's own packaged train.py."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmpretrain
from mics_mm.testing.kvasir_demo import make_demo_kvasir
from mics_mm.datasets.splits import make_splits

import reliability_helpers as rh

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/mics/pretrain_kvasir_demo.py'


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('mics_train') / 'demo'
    make_demo_kvasir(root, per_class=4, size=64, seed=0)
    make_splits(str(root), seed=0)
    return str(root)


def overrides(data_root, max_epochs, workers=0):
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=8', f'train_dataloader.num_workers={workers}',
        f'train_dataloader.persistent_workers={workers > 0}',
        f'train_cfg.max_epochs={max_epochs}',
        'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'model.head.queue_size=24', 'randomness.seed=7'
    ]


def run(cmd, env=None, timeout=300):
    env = dict(os.environ if env is None else env)
    env.setdefault('CUDA_VISIBLE_DEVICES', '')
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def train(work_dir, opts, *extra):
    return run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(work_dir), *extra, '--cfg-options', *opts
    ])


def scalars(work_dir):
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    records = []
    for f in files:
        with open(f) as fh:
            records += [json.loads(line) for line in fh if line.strip()]
    return {r['step']: r for r in records if 'loss' in r}


def test_resume_continues_like_an_uninterrupted_run(demo_root, tmp_path):
    full, split = tmp_path / 'full', tmp_path / 'split'
    train(full, overrides(demo_root, 2))
    train(split, overrides(demo_root, 1))
    first = torch.load(split / 'epoch_1.pth', weights_only=False)
    log = train(split, overrides(demo_root, 2), '--resume')
    assert 'resumed epoch: 1' in log
    # The first checkpoint of the split run is left as it was.
    again = torch.load(split / 'epoch_1.pth', weights_only=False)
    assert torch.equal(first['state_dict']['head.queue'],
                       again['state_dict']['head.queue'])

    a = torch.load(full / 'epoch_2.pth', weights_only=False)
    b = torch.load(split / 'epoch_2.pth', weights_only=False)
    assert a['meta']['epoch'] == b['meta']['epoch'] == 2
    assert set(a['state_dict']) == set(b['state_dict'])
    for key, value in a['state_dict'].items():
        assert torch.allclose(value.float(), b['state_dict'][key].float(),
                              atol=1e-5), key
    # Both optimizers (encoder and discriminator) were saved and restored.
    assert set(a['optimizer']) == {'generator', 'discriminator'}
    # Same logged losses in the resumed epoch.
    la, lb = scalars(str(full)), scalars(str(split))
    steps = [s for s in la if s > max(la) // 2]
    assert steps
    for s in steps:
        for term in ('loss_recon', 'loss_consistency', 'loss_aligned',
                     'loss_disc'):
            assert la[s][term] == pytest.approx(lb[s][term], rel=1e-4), (s,
                                                                       term)


def test_dist_train_two_gloo_processes(demo_root, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(rh.free_port()))
    out = run([
        'bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
        str(tmp_path / 'ddp'), '--cfg-options',
        *overrides(demo_root, 1),
        # no queue cap, so the pointer shows how many keys were enqueued
        'custom_hooks.1.max_fraction=100'
    ],
              env=env)
    assert "backend='gloo'" in out or 'gloo' in out
    assert 'world_size: 2' in out or 'GPU number: 2' in out
    ckpt = torch.load(tmp_path / 'ddp' / 'epoch_1.pth', weights_only=False)
    # The discriminator trained (its own optimizer state exists) on 2 ranks.
    state = ckpt['optimizer']['discriminator']['state']
    assert len(state) > 0
    # One step of 8 samples per rank: the keys of both ranks were gathered.
    assert int(ckpt['state_dict']['head.queue_ptr']) == 16


def test_mmpretrain_packaged_train_runs_our_config(demo_root, tmp_path):
    tool = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                    'train.py')
    assert osp.isfile(tool)
    run([
        sys.executable, tool, CONFIG, '--work-dir',
        str(tmp_path / 'mim'), '--cfg-options', *overrides(demo_root, 1)
    ])
    assert (tmp_path / 'mim' / 'epoch_1.pth').is_file()


def test_dist_finetune_two_gloo_processes(demo_root, tmp_path):
    """Fine-tuning under DDP: modality dropout leaves an encoder unused and
    the distribution-shift head gathers features from both ranks."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(rh.free_port()))
    opts = [
        f'{loader}.dataset.data_root={demo_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ] + [
        'train_dataloader.dataset.ann_file=splits/train.json',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'model.modality_dropout=0.9', 'default_hooks.checkpoint.interval=1'
    ]
    run([
        'bash', 'tools/dist_train.sh', 'configs/mics/finetune_kvasir_demo.py',
        '2', '--work-dir',
        str(tmp_path / 'ft'), '--cfg-options', *opts
    ],
        env=env)
    ckpt = torch.load(tmp_path / 'ft' / 'epoch_1.pth', weights_only=False)
    counts = ckpt['state_dict']['head.class_count']
    # 16 training samples split over 2 ranks; each rank's estimate saw all.
    assert float(counts.sum()) == 16
    # save_best on validation accuracy: the best checkpoint is kept apart
    best = list((tmp_path / 'ft').glob('best_accuracy_epoch_*.pth'))
    assert len(best) == 1, sorted(p.name for p in (tmp_path / 'ft').iterdir())
    assert 'state_dict' in torch.load(best[0], weights_only=True)
