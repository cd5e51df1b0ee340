"""The reliability behaviours hold through mmpretrain's packaged
``tools/train.py`` too: it honours ``runner_type='SafeRunner'`` from the
runtime config, so nothing depends on our own script (docs/reliability.md).
"""
import os
import os.path as osp
import socket
import subprocess
import sys

import mmpretrain
import pytest
import torch

import reliability_helpers as rh

PACKAGED = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                    'train.py')
RUNTIME = str(rh.REPO / 'configs/_base_/default_runtime.py')

# rh.TINY_CLS with SyncBN (BN on CPU) and one epoch
TINY = rh.TINY_CLS.replace(
    "base_channels=8)",
    "base_channels=8,\n                  norm_cfg=dict(type='SyncBN'))"
).replace('max_epochs=3', 'max_epochs=1')


def _port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def _run(*args, nproc: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('LOCAL_RANK', None)
    if nproc:
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               f'--nproc_per_node={nproc}', f'--master_port={_port()}',
               PACKAGED, *map(str, args), '--launcher', 'pytorch']
    else:
        cmd = [sys.executable, PACKAGED, *map(str, args)]
    return subprocess.run(cmd, cwd=rh.REPO, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=300)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('packaged')
    data = rh.make_images(str(root / 'data'))
    return rh.write_config(str(root / 'tiny.py'), RUNTIME,
                           TINY.format(data=data))


@pytest.mark.slow
def test_packaged_train_py_runs_safe_runner(tiny, tmp_path):
    work = tmp_path / 'work'
    # two CPU processes: gloo, CPU DDP and SyncBN -> BN, all by SafeRunner
    proc = _run(tiny, '--work-dir', work, nproc=2)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'Distributed training: True' in proc.stdout
    if not torch.cuda.is_available():
        assert "dist_cfg: {'backend': 'gloo'}" in proc.stdout
        assert 'SyncBN needs GPUs' in proc.stdout
    ckpt = work / 'epoch_1.pth'
    # plain content: torch's default weights_only=True reads it
    assert torch.load(ckpt)['meta']['epoch'] == 1
    sha = rh.sha256(ckpt)

    # a second run into the same work dir is refused, the checkpoint kept
    proc = _run(tiny, '--work-dir', work)
    assert proc.returncode != 0
    assert 'already holds checkpoints' in proc.stdout
    assert 'overwrite_work_dir=True' in proc.stdout
    assert rh.sha256(ckpt) == sha

    # resuming is the way on
    proc = _run(tiny, '--work-dir', work, '--resume', '--cfg-options',
                'train_cfg.max_epochs=2')
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'resumed epoch: 1' in proc.stdout
    assert (work / 'epoch_2.pth').is_file()
    assert not ckpt.exists()  # max_keep_ckpts=1, pruned after the save

    # a near-miss of a runner key
    proc = _run(tiny, '--work-dir', tmp_path / 'typo', '--cfg-options',
                'trian_cfg.max_epochs=1')
    assert proc.returncode != 0
    assert "'trian_cfg'" in proc.stdout and "'train_cfg'" in proc.stdout

    # an unreadable checkpoint is named
    bad = tmp_path / 'bad.pth'
    bad.write_bytes((work / 'epoch_2.pth').read_bytes()[:1000])
    proc = _run(tiny, '--work-dir', tmp_path / 'new', '--resume', bad)
    assert proc.returncode != 0
    assert 'CheckpointReadError' in proc.stdout and str(bad) in proc.stdout
