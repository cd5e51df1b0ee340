"""Device checks and distributed start-up without a GPU
(mics_mm.engine.runner.launch) and the CPU DDP wrapper."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.nn as nn

from mics_mm.engine.runner import launch

import reliability_helpers as rh

REPO = Path(__file__).resolve().parents[2]


DIST_SCRIPT = textwrap.dedent("""
    import os
    import torch.distributed as dist
    from mmengine.dist import init_dist
    from mics_mm.engine.runner.launch import init_cpu_distributed

    # mmengine's own launcher pins a CUDA device and fails without one.
    try:
        init_dist('pytorch', backend='gloo')
    except Exception as e:
        print('MMENGINE FAILS:', type(e).__name__)
    assert not dist.is_initialized()

    print('BACKEND', init_cpu_distributed('pytorch', backend='nccl'))
    print('PYTORCH', dist.get_backend(), dist.get_world_size(),
          dist.get_rank())
    dist.destroy_process_group()

    os.environ.update(SLURM_PROCID='0', SLURM_NTASKS='1',
                      SLURM_NODELIST='localhost', SLURM_LOCALID='0')
    for k in ('RANK', 'WORLD_SIZE'):
        os.environ.pop(k)
    init_cpu_distributed('slurm', backend='nccl',
                         port=int(os.environ['SLURM_TEST_PORT']))
    print('SLURM', dist.get_backend(), dist.get_world_size(),
          os.environ['MASTER_PORT'] == os.environ['SLURM_TEST_PORT'])
""")


@pytest.mark.slow
def test_cpu_distributed_init_pytorch_and_slurm():
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES='',  # the CPU path, also on a GPU machine
        RANK='0',
        WORLD_SIZE='1',
        LOCAL_RANK='0',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(rh.free_port()),
        SLURM_TEST_PORT=str(rh.free_port()),
        OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', DIST_SCRIPT],
                          cwd=REPO,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'MMENGINE FAILS: RuntimeError' in proc.stdout
    assert 'BACKEND gloo' in proc.stdout
    assert 'PYTORCH gloo 1 0' in proc.stdout
    assert 'SLURM gloo 1 True' in proc.stdout
    assert 'instead of "nccl"' in proc.stdout


@pytest.fixture
def no_cuda(monkeypatch):
    """This process as a machine whose torch sees no usable CUDA."""
    monkeypatch.setattr(launch, 'has_accelerator', lambda: False)
    monkeypatch.delenv(launch.ALLOW_CPU_ENV, raising=False)
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)


def test_cpu_allowed_without_gpus(no_cuda, monkeypatch):
    monkeypatch.setattr(launch, 'nvidia_gpus_present', lambda: 0)
    assert launch.cpu_run_allowed() is True


def test_gpus_present_but_unusable_stop_with_the_mismatch(
        no_cuda, monkeypatch):
    monkeypatch.setattr(launch, 'nvidia_gpus_present', lambda: 8)
    monkeypatch.setattr(launch, '_driver_version', lambda: '470.82.01')
    monkeypatch.setattr(
        launch, '_cuda_failure',
        lambda: 'The NVIDIA driver on your system is too old')
    with pytest.raises(launch.DeviceUnusableError) as err:
        launch.cpu_run_allowed()
    msg = str(err.value)
    assert '8 NVIDIA GPU(s)' in msg and '470.82.01' in msg
    assert f'CUDA {torch.version.cuda}' in msg and 'too old' in msg
    assert 'docs/install.md' in msg and launch.ALLOW_CPU_ENV in msg
    # the user may ask for the CPU on purpose
    monkeypatch.setenv(launch.ALLOW_CPU_ENV, '1')
    assert launch.cpu_run_allowed() is True
    monkeypatch.delenv(launch.ALLOW_CPU_ENV)
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    assert launch.cpu_run_allowed() is True


def test_usable_accelerator_is_used(monkeypatch):
    monkeypatch.setattr(launch, 'has_accelerator', lambda: True)
    monkeypatch.setattr(launch, 'nvidia_gpus_present',
                        lambda: pytest.fail('not asked when usable'))
    assert launch.cpu_run_allowed() is False


def test_adapt_cfg_for_cpu_distributed():
    from mmengine.config import Config
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(norm_cfg=dict(type='SyncBN')),
                neck=[dict(norm_cfg=dict(type='MMSyncBN'))]),
            model_wrapper_cfg=dict(
                type='MultiForwardDistributedDataParallel'),
            find_unused_parameters=True,
            sync_bn='torch'))
    assert launch.adapt_cfg_for_cpu_distributed(cfg) is True
    assert cfg.model_wrapper_cfg == dict(
        type='MultiForwardDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=True)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert cfg.model.neck[0].norm_cfg.type == 'BN'
    assert 'sync_bn' not in cfg

    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=9))))
    launch.adapt_cfg_for_cpu_distributed(cfg)
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=9)


@pytest.fixture
def gloo_group():
    """A world-size-1 gloo process group in this process."""
    assert not torch_dist.is_initialized()
    torch_dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{rh.free_port()}',
        rank=0,
        world_size=1)
    yield
    torch_dist.destroy_process_group()


def _toy_model(with_ddp_model: bool):
    from mmengine.model import BaseModel

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)
            self.bn = nn.SyncBatchNorm(1)
            self.seen_ddp_model = None

        def forward(self, inputs, data_samples=None, mode='loss'):
            return dict(loss=self.bn(self.fc(inputs)[..., None]).pow(2).mean())

    if with_ddp_model:

        class ToyDDP(Toy):

            def train_step(self, data, optim_wrapper, ddp_model=None):
                self.seen_ddp_model = ddp_model
                losses = ddp_model(**data, mode='loss')
                loss, log_vars = self.parse_losses(losses)
                optim_wrapper.update_params(loss)
                return log_vars

        return ToyDDP()
    return Toy()


@pytest.mark.parametrize('with_ddp_model', [True, False])
def test_mics_ddp_wrapper_on_cpu(gloo_group, with_ddp_model):
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODEL_WRAPPERS, init_default_scope
    from mics_mm.engine.wrappers import \
        MultiForwardDistributedDataParallel
    init_default_scope('mics_mm')
    # Runner.wrap_model looks the type up in mmengine's root registry.
    assert MODEL_WRAPPERS.get('MultiForwardDistributedDataParallel') is \
        MultiForwardDistributedDataParallel

    model = _toy_model(with_ddp_model)
    # What Runner.wrap_model passes; a plain DDP rejects device ids on CPU.
    with pytest.raises(ValueError):
        nn.parallel.DistributedDataParallel(
            _toy_model(False), device_ids=[0])
    ddp = MODEL_WRAPPERS.build(
        dict(type='MultiForwardDistributedDataParallel', broadcast_buffers=True),
        default_args=dict(module=model, device_ids=[0]))
    assert isinstance(ddp, MultiForwardDistributedDataParallel)
    assert ddp.device_ids is None and ddp.output_device is None
    assert ddp.broadcast_buffers is False
    assert not any(
        isinstance(m, nn.SyncBatchNorm) for m in ddp.module.modules())

    before = ddp.module.fc.weight.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.1))
    log_vars = ddp.train_step(dict(inputs=torch.randn(4, 2)), optim)
    assert 'loss' in log_vars
    assert not torch.equal(before, ddp.module.fc.weight)
    if with_ddp_model:
        assert ddp.module.seen_ddp_model is ddp
    else:
        assert ddp.module.seen_ddp_model is None


