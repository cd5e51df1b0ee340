"""Semi-supervised fine-tuning: pseudo-label masking and batch mixing."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mics_mm.testing.kvasir_demo import make_demo_kvasir
from mics_mm.datasets.splits import make_splits
from mics_mm.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/mics/finetune_kvasir_semi_demo.py')


def tiny_classifier(**semi):
    model = MODELS.build(
        dict(
            type='MICSMultiModalClassifier',
            backbone=dict(
                type='ResNet', depth=18, base_channels=16, stem_channels=16),
            neck=dict(type='MICSFusionNeck', in_channels=128, mode='gated'),
            head=dict(type='MICSDistShiftHead', num_classes=3,
                      in_channels=128),
            semi_supervised=semi or dict(threshold=0.9, weight=2.0)))
    model.init_weights()
    return model


def test_pseudo_labels_are_masked_by_confidence():
    model = tiny_classifier(threshold=0.9, weight=2.0)
    weak_logits = torch.tensor([[10., 0., 0.],   # confident: class 0
                                [0., 0.5, 0.],   # unsure: masked out
                                [0., 0., 9.]])   # confident: class 2
    strong_logits = torch.randn(3, 3, requires_grad=True)
    calls = iter([weak_logits, strong_logits])
    model.head.forward = lambda feats: next(calls)
    x = {m: torch.zeros(3, 3, 32, 32) for m in ('wli', 'nbi')}
    out = model.unsupervised_loss(x, x, ('wli', 'nbi'))
    ce = F.cross_entropy(strong_logits, torch.tensor([0, 1, 2]),
                         reduction='none')
    expected = 2.0 * (ce[0] + ce[2]) / 3
    assert torch.allclose(out['loss_unsup'], expected)
    assert float(out['unsup_pass_ratio']) == pytest.approx(2 / 3)
    out['loss_unsup'].backward()
    assert strong_logits.grad[1].abs().sum() == 0  # masked sample: no grad
    assert strong_logits.grad[0].abs().sum() > 0


def test_unknown_semi_key_is_named():
    with pytest.raises(KeyError, match='treshold'):
        tiny_classifier(treshold=0.9)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('semi') / 'demo'
    make_demo_kvasir(root, per_class=10, size=64, seed=2)
    make_splits(str(root), seed=0)
    return str(root)


def semi_dataset(demo_root, ratio=3):
    cfg = Config.fromfile(CONFIG)
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.labeled.data_root = ds.unlabeled.data_root = demo_root
    ds.unlabeled_ratio = ratio
    return DATASETS.build(ds)


def test_each_item_mixes_labelled_and_unlabelled(demo_root):
    dataset = semi_dataset(demo_root, ratio=3)
    assert len(dataset) == len(dataset.labeled) < len(dataset.unlabeled)
    item = dataset[0]
    assert item['data_samples'].gt_label is not None
    assert set(item['inputs']) == {'wli', 'nbi'}
    for view in ('weak', 'strong'):
        for m in ('wli', 'nbi'):
            assert item['unlabeled'][view][m].shape == (3, 3, 64, 64)
    # The strong view is a different (jittered) image from the weak one.
    assert not torch.equal(item['unlabeled']['weak']['wli'],
                           item['unlabeled']['strong']['wli'])
    assert dataset.metainfo['classes'] == dataset.labeled.metainfo['classes']
    with pytest.raises(ValueError, match='unlabeled_ratio'):
        semi_dataset(demo_root, ratio=0)


def test_train_step_logs_unsupervised_terms(demo_root):
    from mmengine.dataset import default_collate
    from mmengine.optim import build_optim_wrapper
    dataset = semi_dataset(demo_root, ratio=2)
    cfg = Config.fromfile(CONFIG)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.data_preprocessor = cfg.data_preprocessor
    model_cfg.semi_supervised = dict(threshold=0.0, weight=1.0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    batch = default_collate([dataset[i] for i in range(4)])
    processed = model.data_preprocessor(copy.deepcopy(batch), True)
    assert processed['unlabeled']['strong']['nbi'].shape == (8, 3, 64, 64)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    logs = model.train_step(batch, ow)
    assert float(logs['unsup_pass_ratio']) == 1.0  # threshold 0: all pass
    assert float(logs['loss_unsup']) > 0
