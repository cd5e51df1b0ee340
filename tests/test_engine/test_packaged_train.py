"""The reliability behaviours hold through mmpretrain's packaged
``tools/train.py`` too: it honours ``runner_type='SafeRunner'`` from the
runtime config, so nothing depends on our own script (docs/reliability.md).
"""
import os
import os.path as osp
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


def _run(*args, nproc: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('LOCAL_RANK', None)
    if nproc:
        cmd = [sys.executable, '-m', 'torch.distributed.run',
               f'--nproc_per_node={nproc}', f'--master_port={rh.free_port()}',
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


# ---------------------------------------------------------------------------
# --amp through the packaged train.py: MICS's two optimizer wrappers
# ---------------------------------------------------------------------------
MICS_DEMO = str(rh.REPO / 'configs/mics/pretrain_kvasir_demo.py')
AMP_NEEDS_GPU = 'only available training on gpu'


def _packaged_module():
    """mmpretrain's packaged tools/train.py as a module (its merge_args)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('mmpretrain_mim_train',
                                                  PACKAGED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _packaged_amp_cfg(config: str = MICS_DEMO):
    """``config`` after the packaged script's ``--amp`` edit."""
    import argparse

    from mmengine.config import Config
    args = argparse.Namespace(
        config=config, work_dir='unused', amp=True, resume=None,
        no_validate=False, auto_scale_lr=False, no_pin_memory=False,
        no_persistent_workers=False, cfg_options=None, launcher='none')
    return _packaged_module().merge_args(Config.fromfile(config), args)


class _TwoParts(torch.nn.Module):
    """The parts PartwiseOptimWrapperConstructor hands out (MICS's
    encoder side and discriminator), tiny."""

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(3, 3)
        self.discriminator = torch.nn.Linear(3, 2)


def _build_wrappers(optim_wrapper, monkeypatch):
    """Build the wrappers of ``optim_wrapper`` for a tiny model; on a CPU
    machine mmengine's AmpOptimWrapper refuses to build, so its device
    check is told a GPU exists (the wrapper is built, not stepped)."""
    import copy

    from mmengine.optim import build_optim_wrapper
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    from mmengine.registry import DefaultScope

    import mics_mm  # noqa: F401
    if not torch.cuda.is_available():
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)
    with DefaultScope.overwrite_default_scope('mics_mm'):
        return build_optim_wrapper(_TwoParts(),
                                   copy.deepcopy(optim_wrapper))


def test_packaged_amp_edit_gives_both_parts_amp(monkeypatch):
    """mmpretrain's train.py --amp writes optim_wrapper.type at the top
    level; PartwiseOptimWrapperConstructor gives it to both parts, and the
    result is what our tools/train.py --amp (enable_amp) builds."""
    import warnings

    from mmengine.config import Config
    from mmengine.optim import AmpOptimWrapper

    from mics_mm.apis import enable_amp
    cfg = _packaged_amp_cfg()
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.constructor == 'PartwiseOptimWrapperConstructor'
    assert cfg.optim_wrapper.generator.type == 'OptimWrapper'  # unchanged
    ours = Config.fromfile(MICS_DEMO).optim_wrapper
    enable_amp(ours)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # GradScaler without CUDA
        packaged = _build_wrappers(cfg.optim_wrapper, monkeypatch)
        mine = _build_wrappers(ours, monkeypatch)
    assert set(packaged.keys()) == set(mine.keys()) == {
        'generator', 'discriminator'
    }
    for name in ('generator', 'discriminator'):
        for wrappers in (packaged, mine):
            assert type(wrappers[name]) is AmpOptimWrapper, name
            assert wrappers[name]._scale_update_param is None  # dynamic
        assert type(packaged[name].optimizer) is type(mine[name].optimizer)
        assert packaged[name].optimizer.defaults == \
            mine[name].optimizer.defaults
    # the parts' own optimizer settings came through
    assert packaged['generator'].optimizer.defaults['lr'] == \
        ours.generator.optimizer.lr


def test_partwise_top_level_keys_rules():
    from mics_mm.engine.optimizers import PartwiseOptimWrapperConstructor
    parts = dict(
        generator=dict(type='OptimWrapper', optimizer=dict(type='SGD',
                                                           lr=0.1)),
        discriminator=dict(optimizer=dict(type='SGD', lr=0.2),
                           loss_scale=256.))
    made = PartwiseOptimWrapperConstructor(
        dict(parts, type='AmpOptimWrapper', loss_scale='dynamic',
             dtype='bfloat16')).cfgs
    assert made['generator'] == dict(
        type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1),
        loss_scale='dynamic', dtype='bfloat16')
    # a part's own loss_scale wins over the top-level one
    assert made['discriminator']['loss_scale'] == 256.
    assert made['discriminator']['type'] == 'AmpOptimWrapper'
    # the input is not changed
    assert parts['generator']['type'] == 'OptimWrapper'
    # a plain top-level type changes nothing
    assert PartwiseOptimWrapperConstructor(
        dict(parts, type='OptimWrapper')).cfgs == parts
    with pytest.raises(ValueError, match='give each part its own'):
        PartwiseOptimWrapperConstructor(dict(parts, type='MyWrapper'))
    with pytest.raises(ValueError, match='AmpOptimWrapper arguments'):
        PartwiseOptimWrapperConstructor(dict(parts, loss_scale=512.))
    custom = dict(parts, discriminator=dict(
        type='MyWrapper', optimizer=dict(type='SGD', lr=0.2)))
    with pytest.raises(ValueError, match='MyWrapper'):
        PartwiseOptimWrapperConstructor(dict(custom, type='AmpOptimWrapper'))


@pytest.mark.slow
def test_packaged_train_py_amp_on_mics_config(tmp_path):
    """The packaged train.py --amp on the MICS demo config: on a GPU it
    trains with AmpOptimWrapper on both parts; on a CPU-only machine it
    reaches AmpOptimWrapper for the parts and stops with mmengine's
    message (AMP needs an accelerator in mmengine 0.10.7), not with the
    constructor's unknown-key error."""
    from mics_mm.datasets.splits import make_splits
    data = rh.make_kvasir(str(tmp_path / 'data'), per_class=4, size=32)
    make_splits(data, seed=0)
    work = tmp_path / 'work'
    proc = _run(MICS_DEMO, '--amp', '--work-dir', work, '--cfg-options',
                f'train_dataloader.dataset.data_root={data}',
                'train_dataloader.batch_size=8',
                'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False',
                'train_cfg.max_epochs=1', 'model.head.queue_size=16')
    assert 'PartwiseOptimWrapperConstructor: top-level' in proc.stdout
    assert 'is not a submodule' not in proc.stdout
    if torch.cuda.is_available():
        assert proc.returncode == 0, proc.stdout[-4000:]
        state = torch.load(work / 'epoch_1.pth', weights_only=False)
        for name in ('generator', 'discriminator'):
            assert 'loss_scaler' in state['optimizer'][name], name
    else:
        assert proc.returncode != 0
        assert AMP_NEEDS_GPU in proc.stdout, proc.stdout[-4000:]
