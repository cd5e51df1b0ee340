"""MICS' two optimizers follow their own schedules: the encoder
(``generator``) warms up and decays, the discriminator keeps the release's
constant Adam lr (no scheduler); and the pre-training configs ask DDP for
no buffer broadcast (the queue is kept identical on every rank)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import reliability_helpers as rh
from reliability_helpers import one_thread  # noqa: F401 (autouse fixture)

MICS_CONFIGS = [
    p for p in sorted(glob.glob(str(rh.REPO / 'configs/mics/*.py')))
    if Config.fromfile(p).model.type == 'MICS'
]


def test_mics_configs_found():
    names = [osp.basename(p) for p in MICS_CONFIGS]
    assert 'mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py' in names
    assert 'pretrain_kvasir_demo.py' in names


@pytest.mark.parametrize('path', MICS_CONFIGS, ids=osp.basename)
def test_pretrain_configs_schedule_encoder_only(path):
    cfg = Config.fromfile(path)
    # One list per optimizer wrapper (a plain list would be applied to the
    # discriminator's Adam as well).
    assert set(cfg.param_scheduler) == set(cfg.optim_wrapper) - {
        'constructor'
    } == {'generator', 'discriminator'}
    assert cfg.param_scheduler.discriminator == []
    assert [s['type'] for s in cfg.param_scheduler.generator
            ] == ['LinearLR', 'CosineAnnealingLR']
    # the cosine ends with the run (epochs, or iterations for the
    # iteration-based Fashion-MNIST check)
    assert cfg.param_scheduler.generator[-1]['end'] == \
        cfg.train_cfg.get('max_epochs', cfg.train_cfg.get('max_iters'))
    disc = cfg.optim_wrapper.discriminator.optimizer
    assert (disc.type, disc.lr, tuple(disc.betas)) == ('Adam', 2e-3,
                                                       (0.5, 0.999))
    assert cfg.model_wrapper_cfg.broadcast_buffers is False


@pytest.mark.slow
def test_discriminator_lr_constant_while_encoder_lr_moves(tmp_path):
    """A short run of the demo config (ResNet-18 with 16 base channels,
    16 images, batch 4, 2 epochs of 4 iterations: warm-up, then cosine):
    the logged ``generator.lr`` changes every iteration, the logged
    ``discriminator.lr`` stays at 2e-3."""
    data = rh.make_kvasir(str(tmp_path / 'kvasir'), per_class=2)
    work = str(tmp_path / 'run')
    rh.train_and_record(
        str(rh.REPO / 'configs/mics/pretrain_kvasir_demo.py'), work, [
            f'train_dataloader.dataset.data_root={data}',
            'train_dataloader.dataset.ann_file=',
            'train_dataloader.dataset.split=None',
            'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=2', 'param_scheduler.generator.1.end=2',
            'default_hooks.checkpoint.interval=100',
            'default_hooks.checkpoint.save_last=False',
            'model.head.queue_size=24', 'model.backbone.base_channels=16',
            'model.backbone.stem_channels=16', 'model.neck.in_channels=128',
            'model.recon_neck.in_channels=128',
            'model.discriminator.in_channels=128'
        ])
    records = rh.read_scalars(work)
    steps = sorted(records)
    assert len(steps) == 8
    gen = [records[s]['generator.lr'] for s in steps]
    disc = [records[s]['discriminator.lr'] for s in steps]
    assert disc == [pytest.approx(2e-3, rel=1e-9)] * len(steps)
    # warm-up from 1e-4 (0.1 x the demo's 1e-3) to 1e-3, then cosine down
    assert gen[0] == pytest.approx(1e-4, rel=1e-6)
    assert gen[3] == gen[4] == pytest.approx(1e-3, rel=1e-6)
    assert gen[:4] == sorted(set(gen[:4]))
    assert gen[4:] == sorted(set(gen[4:]), reverse=True)
    assert gen[-1] < 2e-4
