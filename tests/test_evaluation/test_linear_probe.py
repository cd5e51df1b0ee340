"""The linear probe: separable features are learnt, random ones are not,
bad input is refused."""
import pytest
import torch

from mics_mm.evaluation import fit_linear_probe, linear_probe_accuracy


def _blobs(n, seed, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, 16, generator=torch.Generator().manual_seed(99))
    y = torch.randint(0, 4, (n, ), generator=g)
    return centres[y] * 3 + spread * torch.randn(n, 16, generator=g), y


def test_separable_features_give_high_accuracy():
    x, y = _blobs(400, 0)
    xt, yt = _blobs(200, 1)
    assert linear_probe_accuracy(x, y, xt, yt) > 0.98


def test_features_without_signal_stay_near_chance():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 16, generator=g), torch.randint(0, 4, (400, ),
                                                             generator=g)
    xt, yt = torch.randn(400, 16, generator=g), torch.randint(
        0, 4, (400, ), generator=g)
    assert linear_probe_accuracy(x, y, xt, yt) < 0.4


def test_deterministic_and_scale_invariant():
    x, y = _blobs(300, 0, spread=2.0)
    xt, yt = _blobs(300, 1, spread=2.0)
    a = fit_linear_probe(x, y)(xt)
    assert torch.equal(a, fit_linear_probe(x, y)(xt))
    # features are standardised first: a scaled copy predicts the same
    assert (fit_linear_probe(1000 * x, y)(1000 * xt) == a).float().mean() \
        > 0.99


def test_bad_input_is_refused():
    x, y = _blobs(20, 0)
    with pytest.raises(ValueError, match='finite'):
        x2 = x.clone()
        x2[0, 0] = float('nan')
        fit_linear_probe(x2, y)
    with pytest.raises(ValueError, match='labels'):
        fit_linear_probe(x, y[:10])
    with pytest.raises(ValueError, match='labels must be in'):
        fit_linear_probe(x, y, num_classes=2)
    with pytest.raises(ValueError, match='test'):
        linear_probe_accuracy(x, y, x, y[:5])
