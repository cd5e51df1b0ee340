"""End-to-end tests of tools/train.py, tools/test.py and tools/dist_train.sh.

A tiny ResNet-18 (8 base channels) is trained on 16 random 32x32 PNGs in
two class folders, in subprocesses, on CPU.
"""
import hashlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import List

import numpy as np
import pytest
import torch

from mics_mm.apis import enable_amp, load_config

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / 'tools'
NUM_IMAGES = 16
BATCH_SIZE = 4
ITERS_PER_EPOCH = NUM_IMAGES // BATCH_SIZE

CONFIG = """
data_root = {data_root!r}
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size={batch_size}, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        num_classes=2, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('LOCAL_RANK', None)
    return env


def _run(cmd: List[str], timeout: int = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-5000:]
    return proc


def _python_tool(name: str, *args) -> subprocess.CompletedProcess:
    return _run([sys.executable, str(TOOLS / name), *map(str, args)])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f'mics_tools_{name}', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train the tiny model for 2 epochs; returns (config, work_dir)."""
    import cv2
    root = tmp_path_factory.mktemp('tools')
    rng = np.random.default_rng(0)
    for cls in ('a', 'b'):
        (root / 'data' / cls).mkdir(parents=True)
        for i in range(NUM_IMAGES // 2):
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            assert cv2.imwrite(str(root / 'data' / cls / f'{i}.png'), img)
    config = root / 'tiny_cls.py'
    config.write_text(
        CONFIG.format(data_root=str(root / 'data'), batch_size=BATCH_SIZE))
    work_dir = root / 'work_dir'
    _python_tool('train.py', config, '--work-dir', work_dir)
    return config, work_dir


def test_train_then_resume(trained):
    config, work_dir = trained
    ckpt1, ckpt2 = work_dir / 'epoch_1.pth', work_dir / 'epoch_2.pth'
    # torch's default (weights_only=True) reads them: tensors and plain
    # containers only (SafeCheckpointHook, which SafeRunner puts in place of
    # the config's CheckpointHook).
    ckpt = torch.load(ckpt2)
    assert ckpt['meta']['epoch'] == 2
    assert ckpt['meta']['iter'] == 2 * ITERS_PER_EPOCH
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert loss['__mics_mm_plain__'] == 'HistoryBuffer'
    assert len(loss['log']) == 2 * ITERS_PER_EPOCH
    hashes = {p: _sha(p) for p in (ckpt1, ckpt2)}
    log_dirs = {p.name for p in work_dir.iterdir() if p.is_dir()}

    out = _python_tool('train.py', config, '--work-dir', work_dir,
                       '--resume', '--cfg-options',
                       'train_cfg.max_epochs=3').stdout
    assert f'Auto resumed from the latest checkpoint {ckpt2}' in out
    assert f'Loads checkpoint by local backend from path: {ckpt2}' in out
    assert f'resumed epoch: 2, iter: {2 * ITERS_PER_EPOCH}' in out
    assert 'Epoch(train) [1]' not in out
    meta = torch.load(work_dir / 'epoch_3.pth', weights_only=False)['meta']
    assert (meta['epoch'], meta['iter']) == (3, 3 * ITERS_PER_EPOCH)
    # Nothing of the first run was deleted or overwritten.
    assert {p: _sha(p) for p in hashes} == hashes
    assert log_dirs < {p.name for p in work_dir.iterdir() if p.is_dir()}


def test_resume_from_given_checkpoint(trained, tmp_path):
    config, work_dir = trained
    out = _python_tool('train.py', config, '--work-dir', tmp_path,
                       '--resume', work_dir / 'epoch_1.pth').stdout
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in out
    assert f'Epoch(train) [2][{ITERS_PER_EPOCH}/{ITERS_PER_EPOCH}]' in out
    assert 'Epoch(train) [1]' not in out
    assert not (tmp_path / 'epoch_1.pth').exists()
    assert (tmp_path / 'epoch_2.pth').is_file()


def test_load_from(trained, tmp_path):
    import mics_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner
    config, work_dir = trained
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path)
    cfg.default_scope = 'mmpretrain'
    cfg.load_from = str(work_dir / 'epoch_2.pth')
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    state = torch.load(cfg.load_from, weights_only=False)['state_dict']
    model_state = runner.model.state_dict()
    assert state.keys() == model_state.keys()
    for key, value in state.items():
        torch.testing.assert_close(model_state[key], value, msg=key)
    assert runner.epoch == 0  # loaded, not resumed


def test_test_tool_writes_metrics_json(trained, tmp_path):
    config, work_dir = trained
    out_file = tmp_path / 'metrics.json'
    out = _python_tool('test.py', config, work_dir / 'epoch_2.pth',
                       '--work-dir', tmp_path / 'test_dir', '--out',
                       out_file).stdout
    metrics = json.loads(out_file.read_text())
    assert list(metrics) == ['accuracy/top1']
    logged = re.search(r'Epoch\(test\).*accuracy/top1: ([\d.]+)', out)
    assert logged is not None, out[-3000:]
    assert metrics['accuracy/top1'] == pytest.approx(float(logged.group(1)))


def test_dist_train_two_gloo_ranks(trained, tmp_path):
    config, _ = trained
    # CPU DDP (gloo), also on a GPU machine.
    env = dict(
        _env(),
        PYTHON=sys.executable,
        PORT=str(_free_port()),
        CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([
        'bash',
        str(TOOLS / 'dist_train.sh'),
        str(config), '2', '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=1'
    ],
                          cwd=REPO,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:]
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out  # mmengine's name for the world size
    assert "backend='gloo'" in out
    # Each of the 2 ranks sees half of the data.
    half = ITERS_PER_EPOCH // 2
    assert f'Epoch(train) [1][{half}/{half}]' in out
    assert (tmp_path / 'epoch_1.pth').is_file()


# ---------------------------------------------------------------------------
# Config rewriting helpers (no training)
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def train_tool():
    return _load_tool('train')


def test_enable_amp_single_wrapper():
    from mmengine.config import ConfigDict
    wrapper = ConfigDict(optimizer=dict(type='SGD', lr=0.1))
    enable_amp(wrapper)
    assert wrapper.type == 'AmpOptimWrapper'
    assert wrapper.loss_scale == 'dynamic'
    assert wrapper.optimizer == dict(type='SGD', lr=0.1)

    wrapper = ConfigDict(
        type='OptimWrapper', optimizer=dict(type='SGD'), loss_scale=512.)
    enable_amp(wrapper)
    assert (wrapper.type, wrapper.loss_scale) == ('AmpOptimWrapper', 512.)

    with pytest.raises(ValueError, match='MyWrapper'):
        enable_amp(
            ConfigDict(type='MyWrapper', optimizer=dict(type='SGD')))


def test_enable_amp_dict_of_wrappers():
    from mmengine.config import ConfigDict
    wrapper = ConfigDict(
        constructor='MultiOptimWrapperConstructor',
        generator=dict(optimizer=dict(type='Adam', lr=1e-4)),
        discriminator=dict(
            type='OptimWrapper', optimizer=dict(type='Adam', lr=4e-4)))
    enable_amp(wrapper)
    assert wrapper.constructor == 'MultiOptimWrapperConstructor'
    assert 'type' not in wrapper
    for name in ('generator', 'discriminator'):
        assert wrapper[name].type == 'AmpOptimWrapper'
        assert wrapper[name].loss_scale == 'dynamic'
    assert wrapper.discriminator.optimizer.lr == 4e-4

    with pytest.raises(ValueError):
        enable_amp(ConfigDict(constructor='X', foo=dict()))


def test_train_args_rewrite_config(train_tool, tmp_path):
    config = tmp_path / 'cfg_stem.py'
    config.write_text(
        'model = dict(backbone=dict(norm_cfg=dict(type="SyncBN")))\n'
        'train_dataloader = dict(batch_size=2, pin_memory=True)\n'
        'val_dataloader = dict(batch_size=2)\nval_cfg = dict()\n'
        'val_evaluator = dict(type="Accuracy")\n'
        'optim_wrapper = dict(optimizer=dict(type="SGD"))\n'
        'auto_scale_lr = dict(base_batch_size=256)\n')

    args = train_tool.parse_args([str(config)])
    cfg = train_tool.merge_train_args(load_config(args), args)
    assert cfg.default_scope == 'mics_mm'
    assert cfg.work_dir == os.path.join('./work_dirs', 'cfg_stem')
    assert cfg.launcher == 'none'
    assert 'model_wrapper_cfg' not in cfg
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    assert cfg.get('resume') is None

    args = train_tool.parse_args([
        str(config), '--work-dir', 'wd', '--resume', '--no-validate',
        '--no-pin-memory', '--no-persistent-workers', '--auto-scale-lr',
        '--launcher', 'pytorch', '--amp'
    ])
    cfg = train_tool.merge_train_args(load_config(args), args)
    assert cfg.work_dir == 'wd'
    assert (cfg.resume, cfg.load_from) == (True, None)
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    assert cfg.train_dataloader.pin_memory is False
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.auto_scale_lr.enable is True
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.launcher == 'pytorch'
    # the CPU adaptation is SafeRunner's (tests/test_engine/test_launch.py)
    assert cfg.runner_type == 'SafeRunner'
    assert cfg.overwrite_work_dir is False

    args = train_tool.parse_args([str(config), '--resume', 'ckpt.pth'])
    cfg = train_tool.merge_train_args(load_config(args), args)
    assert (cfg.resume, cfg.load_from) == (True, 'ckpt.pth')
