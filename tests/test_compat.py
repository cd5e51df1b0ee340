"""Tests of mics_mm.compat: checkpoint loading, CPU distributed, mmcv.ops."""
import importlib.util
import os
import pickle
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.nn as nn
import torch.nn.functional as F

import mics_mm  # noqa: F401  (applies the fixes)
from mics_mm import compat

REPO = Path(__file__).resolve().parents[1]
MMCV_LITE = importlib.util.find_spec('mmcv._ext') is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------
# 1. Checkpoint loading
# ---------------------------------------------------------------------------
@pytest.fixture
def mmengine_ckpt(tmp_path):
    """A checkpoint holding mmengine objects, as Runner.save_checkpoint
    writes them (message_hub with HistoryBuffer)."""
    from mmengine.logging import HistoryBuffer
    path = tmp_path / 'ckpt.pth'
    torch.save(
        dict(
            meta=dict(epoch=3),
            state_dict=dict(w=torch.ones(2)),
            message_hub=dict(
                log_scalars={'loss': HistoryBuffer([1., 2.], [1, 1])})),
        path)
    return path


def test_checkpoint_loader_is_trusted(mmengine_ckpt):
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
    # Precondition: torch's default refuses it, which is what broke resume.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(mmengine_ckpt)
    assert CheckpointLoader._get_checkpoint_loader(str(mmengine_ckpt)) is \
        compat.load_from_local_trusted
    for ckpt in (CheckpointLoader.load_checkpoint(str(mmengine_ckpt)),
                 _load_checkpoint(str(mmengine_ckpt), map_location='cpu')):
        buffer = ckpt['message_hub']['log_scalars']['loss']
        assert isinstance(buffer, HistoryBuffer)
        assert buffer.current() == 2.
        assert ckpt['meta']['epoch'] == 3


def test_load_checkpoint_into_model(tmp_path, mmengine_ckpt):
    from mmengine.runner.checkpoint import load_checkpoint
    model = nn.Linear(2, 1)
    path = tmp_path / 'model.pth'
    torch.save(
        dict(
            state_dict={k: torch.full_like(v, 7.)
                        for k, v in model.state_dict().items()},
            message_hub=torch.load(mmengine_ckpt,
                                   weights_only=False)['message_hub']), path)
    load_checkpoint(model, str(path), map_location='cpu')
    assert torch.all(model.weight == 7.) and torch.all(model.bias == 7.)


def test_checkpoint_loader_missing_file(tmp_path):
    from mmengine.runner.checkpoint import CheckpointLoader
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(missing)


def test_apply_all_is_idempotent():
    from mmengine.dist import utils as dist_utils
    from mmengine.runner.checkpoint import CheckpointLoader
    schemes = dict(CheckpointLoader._schemes)
    init_pytorch = dist_utils._init_dist_pytorch
    ops = sys.modules.get('mmcv.ops')
    meta_path = list(sys.meta_path)
    compat.apply_all()
    compat.apply_all()
    assert CheckpointLoader._schemes == schemes
    assert dist_utils._init_dist_pytorch is init_pytorch
    assert sys.modules.get('mmcv.ops') is ops
    assert sys.meta_path == meta_path


# ---------------------------------------------------------------------------
# 2. Distributed without a GPU
# ---------------------------------------------------------------------------
DIST_SCRIPT = textwrap.dedent("""
    import os
    import torch
    import torch.distributed as dist
    import mics_mm  # noqa: F401
    from mmengine.dist import init_dist, utils

    # Without the patch mmengine pins a CUDA device and fails.
    try:
        utils._init_dist_pytorch.__wrapped__('nccl')
    except Exception as e:
        print('ORIGINAL FAILS:', type(e).__name__)
    assert not dist.is_initialized()

    init_dist('pytorch')  # the config default asks for nccl
    print('PYTORCH', dist.get_backend(), dist.get_world_size(),
          dist.get_rank())
    dist.destroy_process_group()

    os.environ.update(SLURM_PROCID='0', SLURM_NTASKS='1',
                      SLURM_NODELIST='localhost', SLURM_LOCALID='0',
                      MASTER_PORT=os.environ['SLURM_TEST_PORT'])
    init_dist('slurm', backend='nccl')
    print('SLURM', dist.get_backend(), dist.get_world_size())
    dist.destroy_process_group()
""")


def test_init_dist_uses_gloo_without_gpu():
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES='',  # the CPU path, also on a GPU machine
        RANK='0',
        WORLD_SIZE='1',
        LOCAL_RANK='0',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(_free_port()),
        SLURM_TEST_PORT=str(_free_port()),
        OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', DIST_SCRIPT],
                          cwd=REPO,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'ORIGINAL FAILS: RuntimeError' in proc.stdout
    assert 'PYTORCH gloo 1 0' in proc.stdout
    assert 'SLURM gloo 1' in proc.stdout
    assert 'instead of "nccl"' in proc.stdout


def test_adapt_cfg_for_cpu_distributed(monkeypatch):
    from mmengine.config import Config
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(norm_cfg=dict(type='SyncBN')),
                neck=[dict(norm_cfg=dict(type='MMSyncBN'))]),
            model_wrapper_cfg=dict(type='MultiForwardDistributedDataParallel'),
            find_unused_parameters=True,
            sync_bn='torch'))
    monkeypatch.setattr(compat, 'has_accelerator', lambda: True)
    assert compat.adapt_cfg_for_cpu_distributed(cfg) is False
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'

    monkeypatch.setattr(compat, 'has_accelerator', lambda: False)
    assert compat.adapt_cfg_for_cpu_distributed(cfg) is True
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
    compat.adapt_cfg_for_cpu_distributed(cfg)
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=9)


@pytest.fixture
def gloo_group():
    """A world-size-1 gloo process group in this process."""
    assert not torch_dist.is_initialized()
    torch_dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{_free_port()}',
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
    from mics_mm.engine.wrappers import MultiForwardDistributedDataParallel
    init_default_scope('mmpretrain')
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


# ---------------------------------------------------------------------------
# 3. mmcv.ops fallback under mmcv-lite
# ---------------------------------------------------------------------------
needs_lite = pytest.mark.skipif(
    not MMCV_LITE, reason='full mmcv installed: no fallback needed')


@needs_lite
def test_mmseg_models_import():
    import mmcv.ops
    import mmseg.models  # noqa: F401
    from mmseg.models.losses import FocalLoss
    assert getattr(mmcv.ops, '__mics_mmcv_ops_fallback__', False)
    assert sys.modules['mmcv.ops'] is mmcv.ops
    # mmseg's FocalLoss uses its pure-PyTorch path on CPU.
    # (mmseg's CPU path only handles one-hot targets for several classes)
    loss = FocalLoss(use_sigmoid=True)(
        torch.randn(4, 3), F.one_hot(torch.tensor([0, 1, 2, 1]), 3).float())
    assert torch.isfinite(loss)


@needs_lite
def test_point_sample_matches_grid_sample():
    from mmcv.ops import point_sample
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 5, 7)
    # Pixel centres in [0, 1] coordinates read the pixels exactly.
    ys, xs = torch.tensor([0, 2, 4]), torch.tensor([0, 3, 6])
    centres = torch.stack([(xs + 0.5) / 7, (ys + 0.5) / 5], dim=-1)
    out = point_sample(feats, centres[None].expand(2, -1, -1))
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out, feats[:, :, ys, xs])
    # Half-way between two horizontal neighbours: their mean.
    mid = torch.tensor([[[3. / 7, 2.5 / 5]]]).expand(2, -1, -1)
    torch.testing.assert_close(
        point_sample(feats, mid)[..., 0],
        (feats[:, :, 2, 2] + feats[:, :, 2, 3]) / 2)

    points = torch.rand(2, 11, 2)
    ref = F.grid_sample(
        feats, (2 * points - 1)[:, :, None], align_corners=False)[..., 0]
    torch.testing.assert_close(point_sample(feats, points), ref)
    ref = F.grid_sample(
        feats, (2 * points - 1)[:, :, None], align_corners=True)[..., 0]
    torch.testing.assert_close(
        point_sample(feats, points, align_corners=True), ref)
    grid = torch.rand(2, 4, 6, 2)
    ref = F.grid_sample(feats, 2 * grid - 1, align_corners=False)
    torch.testing.assert_close(point_sample(feats, grid), ref)
    import mmseg.models.utils.point_sample  # noqa: F401
    assert sys.modules['mmseg.models.utils.point_sample'].point_sample is \
        point_sample


@needs_lite
def test_missing_op_placeholders():
    from mmcv.ops import (CrissCrossAttention, DeformConv2d,  # noqa: F401
                          PSAMask, sigmoid_focal_loss)

    from mics_mm._mmcv_ops_fallback import MissingCompiledOpError
    with pytest.raises(MissingCompiledOpError,
                       match=r'mmcv.ops.sigmoid_focal_loss needs the compiled'
                       r' mmcv; install full mmcv==2.1.0'):
        sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))
    with pytest.raises(MissingCompiledOpError,
                       match='choose a model without CrissCrossAttention'):
        CrissCrossAttention(8)
    assert not isinstance(nn.Conv2d(1, 1, 1), DeformConv2d)

    # Submodule imports resolve the same way.
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention
    from mmcv.ops.point_sample import point_sample
    import mmcv.ops
    assert point_sample is mmcv.ops.point_sample
    with pytest.raises(MissingCompiledOpError):
        MultiScaleDeformableAttention()
    assert not hasattr(MultiScaleDeformableAttention, 'apply')
    with pytest.raises(ImportError):
        import mmcv.ops.no_such_module  # noqa: F401
    # mmengine still sees mmcv-lite as lite.
    from mmengine.utils.dl_utils import mmcv_full_available
    assert not mmcv_full_available()
