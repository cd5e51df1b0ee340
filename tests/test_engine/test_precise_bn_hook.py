"""mics_mm's PreciseBNHook: a loader of its own (mmpretrain's writes zero
statistics with an iteration-based loop and persistent workers), the same
statistics whatever the loader's workers, and no statistics lost when the
loader falls short."""
import logging
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmengine.dataset import InfiniteSampler
from mmpretrain.engine.hooks import PreciseBNHook as MMPretrainPreciseBNHook

from mics_mm.engine.hooks import PreciseBNHook
from mics_mm.registry import HOOKS


class _Images(Dataset):

    def __init__(self, n=64):
        g = torch.Generator().manual_seed(0)
        self.x = 3 + 2 * torch.randn(n, 3, 4, 4, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class _Model(nn.Module):

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.data_preprocessor = lambda data, training: dict(inputs=data)

    def forward(self, inputs):
        return self.bn(inputs)


def _runner(model, loader):
    return SimpleNamespace(
        model=model, seed=0, iter=5,
        train_loop=SimpleNamespace(dataloader=loader),
        logger=logging.getLogger('test_precise_bn'))


def test_registered_under_mmpretrains_name_in_our_scope():
    assert HOOKS.get('PreciseBNHook') is PreciseBNHook


def _training_loader(workers):
    """An iteration-based loop's loader (infinite sampler), already being
    iterated by the loop."""
    ds = _Images()
    loader = DataLoader(ds, batch_size=8, num_workers=workers,
                        persistent_workers=workers > 0,
                        sampler=InfiniteSampler(ds, seed=0))
    next(iter(loader))
    return loader


def test_mmpretrains_hook_writes_zeros_here():
    """The failure this hook exists for (if mmpretrain fixes it, this
    test says so)."""
    model = _Model().train()
    MMPretrainPreciseBNHook(num_samples=32)._perform_precise_bn(
        _runner(model, _training_loader(1)))
    assert torch.equal(model.bn.running_var, torch.zeros(3))


@pytest.mark.parametrize('workers', [0, 1])
def test_statistics_are_those_of_the_data(workers):
    ds = _Images()
    loader = _training_loader(workers)
    model = _Model().train()
    PreciseBNHook(num_samples=32, interval=1)._perform_precise_bn(
        _runner(model, loader))
    assert torch.allclose(model.bn.running_mean, torch.full((3, ), 3.0),
                          atol=0.5)
    assert torch.allclose(model.bn.running_var, torch.full((3, ), 4.0),
                          atol=1.5)
    again = _Model().train()
    PreciseBNHook(num_samples=32, interval=1)._perform_precise_bn(
        _runner(again, DataLoader(ds, batch_size=8)))
    assert torch.equal(again.bn.running_mean, model.bn.running_mean)


def test_short_loader_restores_the_statistics(monkeypatch):
    from mics_mm.engine.hooks import precise_bn_hook as mod
    model = _Model().train()
    model.bn.running_mean.fill_(7.0)
    loader = DataLoader(_Images(), batch_size=8)
    monkeypatch.setattr(mod._CountingLoader, '__iter__',
                        lambda self: iter(()))
    with pytest.raises(RuntimeError, match='gave 0 of 4 batches'):
        PreciseBNHook(num_samples=32)._perform_precise_bn(
            _runner(model, loader))
    assert torch.equal(model.bn.running_mean, torch.full((3, ), 7.0))


def test_too_few_samples_is_a_clear_error():
    with pytest.raises(ValueError, match='num_samples=4'):
        PreciseBNHook(num_samples=4)._perform_precise_bn(
            _runner(_Model().train(), DataLoader(_Images(), batch_size=8)))
