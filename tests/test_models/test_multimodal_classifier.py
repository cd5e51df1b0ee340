"""MICS fine-tuning classifier: subsets of modalities, checkpoint hand-over,
bad checkpoints, the single-modality ImageClassifier baseline, and a tiny
end-to-end fine-tune that must beat chance."""
import copy
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mics_mm.testing.kvasir_demo import make_demo_kvasir
from mics_mm.datasets.splits import make_splits
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SMALL_RESNET = dict(depth=18, base_channels=16, stem_channels=16)
MEAN_STD = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def classifier_cfg(mode='cross_attention', **kwargs):
    cfg = dict(
        type='MICSMultiModalClassifier',
        backbone=dict(type='ResNet', **SMALL_RESNET),
        neck=dict(
            type='MICSFusionNeck', in_channels=128, mode=mode,
            embed_dims=32),
        head=dict(
            type='MICSDistShiftHead', num_classes=3,
            in_channels=dict(concat=256, gated=128,
                             cross_attention=32)[mode]),
        data_preprocessor=dict(type='PerModalityDataPreprocessor', **MEAN_STD))
    cfg.update(kwargs)
    return cfg


def batch(n=6, size=32, seed=0, modalities=('wli', 'nbi')):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3

    def image(label):
        low = torch.rand(1, 3, 4, 4, generator=g) * 120
        low[:, label] += 120  # the class is the dominant colour
        up = F.interpolate(low, size=(size, size), mode='bilinear')
        return up[0].round().to(torch.uint8)

    images = [image(int(y)) for y in labels]
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(
        inputs={m: [img.clone() for img in images]
                for m in modalities},
        data_samples=samples)


def build(cfg):
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('mode', ['concat', 'gated', 'cross_attention'])
def test_learns_and_predicts_from_any_subset(mode):
    model = build(classifier_cfg(mode))
    ow = build_optim_wrapper(
        model, dict(type='OptimWrapper', optimizer=dict(type='AdamW',
                                                          lr=3e-3)))
    data = batch()
    losses = [
        float(model.train_step(copy.deepcopy(data), ow)['loss'])
        for _ in range(15)
    ]
    assert sum(losses[-3:]) < sum(losses[:3])
    model.eval()
    for subset in (('wli', 'nbi'), ('wli', ), ('nbi', )):
        sub = batch(modalities=subset)
        out = model.test_step(sub)
        assert len(out) == 6
        assert torch.allclose(out[0].pred_score.sum(), torch.tensor(1.))


def test_test_modalities_drop_the_others():
    model = build(classifier_cfg(test_modalities=('nbi', )))
    model.eval()
    both = model.test_step(batch())
    only = model.test_step(batch(modalities=('nbi', )))
    for a, b in zip(both, only):
        assert torch.allclose(a.pred_score, b.pred_score, atol=1e-6)
    with pytest.raises(ValueError, match='test_modalities'):
        build(classifier_cfg(test_modalities=('lci', )))


def test_aux_heads_and_modality_dropout():
    model = build(
        classifier_cfg(
            aux_head=dict(
                type='LinearClsHead', num_classes=3, in_channels=128),
            modality_dropout=0.5))
    proc = model.data_preprocessor(batch(), True)
    keys = set()
    for seed in range(8):
        torch.manual_seed(seed)
        keys |= {
            k for k in model(**proc, mode='loss') if k.startswith('aux_')
        }
    assert keys == {'aux_wli.loss', 'aux_nbi.loss'}


def tiny_mics_checkpoint(path, **backbone):
    mics = MODELS.build(
        dict(
            type='MICS',
            backbone=dict(
                type='MaskedResNet', mask_patch_size=8,
                **(backbone or SMALL_RESNET)),
            neck=dict(
                type='LinearNeck', in_channels=128, out_channels=16,
                norm_cfg=None),
            head=dict(type='MICSConsistencyHead', feat_dim=16,
                      queue_size=8)))
    mics.init_weights()
    torch.save(dict(state_dict=mics.state_dict(), meta=dict(epoch=1)), path)
    return mics


def test_checkpoint_handover_loads_every_encoder_key(tmp_path):
    ckpt = tmp_path / 'mics.pth'
    mics = tiny_mics_checkpoint(ckpt)
    model = build(classifier_cfg(pretrained=str(ckpt)))
    report = model.pretrain_report
    n = len(model.backbones['wli'].state_dict())
    assert report['loaded'] == {'wli': n, 'nbi': n}
    assert report['unexpected'] == ['mask_token']
    for name in ('wli', 'nbi'):
        for key, value in model.backbones[name].state_dict().items():
            assert torch.equal(value, mics.backbone.state_dict()[key]), key


def test_missing_or_mismatched_checkpoint_is_named(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        build(classifier_cfg(pretrained=str(missing)))
    wrong = tmp_path / 'wide.pth'
    tiny_mics_checkpoint(wrong, depth=18)  # 64-wide ResNet-18
    with pytest.raises(ValueError, match='wide.pth.*shape mismatch'):
        build(classifier_cfg(pretrained=str(wrong)))
    empty = tmp_path / 'other.pth'
    torch.save(dict(state_dict=dict(fc=torch.zeros(1))), empty)
    with pytest.raises(ValueError, match="no weights under 'backbone.'"):
        build(classifier_cfg(pretrained=str(empty)))


def test_image_classifier_baseline_loads_encoder_without_missing_keys(
        tmp_path):
    ckpt = tmp_path / 'mics.pth'
    mics = tiny_mics_checkpoint(ckpt)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/mics/benchmarks',
                 'resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-wli-64px.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(SMALL_RESNET)
    model_cfg.backbone.init_cfg.checkpoint = str(ckpt)
    model_cfg.head.in_channels = 128
    model = MODELS.build(model_cfg)
    model.init_weights()
    own = model.backbone.state_dict()
    assert set(own) == set(mics.backbone.state_dict()) - {'mask_token'}
    for key, value in own.items():
        assert torch.equal(value, mics.backbone.state_dict()[key]), key


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('ft') / 'demo'
    make_demo_kvasir(root, per_class=10, size=64, seed=1)
    make_splits(str(root), seed=0)
    return str(root)


@pytest.mark.slow
def test_tiny_end_to_end_finetune_beats_chance(demo_root, tmp_path):
    cfg = 'configs/mics/finetune_kvasir_demo.py'
    opts = [
        f'{loader}.dataset.data_root={demo_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ] + [
        'train_dataloader.dataset.ann_file=splits/train_labeled_50pct.json',
        'train_cfg.max_epochs=12', 'train_cfg.val_interval=12',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', 'model.pretrained=None'
    ]
    env_run = dict(cwd=ROOT, capture_output=True, text=True, timeout=600)
    proc = subprocess.run([
        sys.executable, 'tools/train.py', cfg, '--work-dir',
        str(tmp_path), '--cfg-options', *opts
    ], **env_run)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = tmp_path / 'metrics.json'
    proc = subprocess.run([
        sys.executable, 'tools/test.py', cfg,
        str(tmp_path / 'epoch_12.pth'), '--work-dir',
        str(tmp_path), '--out',
        str(out), '--cfg-options', *opts
    ], **env_run)
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = json.loads(out.read_text())
    assert metrics['accuracy'] > 1 / 8 + 0.1, metrics
    assert len(metrics['confusion_matrix']) == 8
    png = tmp_path / 'metrics_confusion.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
