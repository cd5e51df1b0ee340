"""MICSDistShiftHead: online class statistics and the ISDA losses."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

K, D = 3, 4


def build(**kwargs):
    cfg = dict(type='MICSDistShiftHead', num_classes=K, in_channels=D)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def set_stats(head, cov, weight, bias):
    """Put known statistics in the buffers; a huge count freezes them."""
    with torch.no_grad():
        head.class_cov.copy_(cov)
        head.class_count.fill_(1e12)
        head.fc.weight.copy_(weight)
        head.fc.bias.copy_(bias)


def mc_expected_ce(x, y, weight, bias, cov, lam, n=20000, seed=0):
    """E[CE(W (a + delta) + b, y)], delta ~ N(0, lam Sigma_y), float64."""
    g = torch.Generator().manual_seed(seed)
    x, weight, bias, cov = (t.double() for t in (x, weight, bias, cov))
    chol = torch.linalg.cholesky(lam * cov)  # (K, D, D)
    eps = torch.randn(n // 2, x.size(0), D, generator=g, dtype=torch.float64)
    eps = torch.cat([eps, -eps])  # antithetic pairs
    delta = torch.einsum('nbd,bed->nbe', eps, chol[y])
    logits = (x[None] + delta) @ weight.t() + bias
    return F.cross_entropy(
        logits.reshape(-1, K), y.repeat(n)).item()


@pytest.fixture
def problem():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(K, D, D, generator=g)
    cov = a @ a.transpose(1, 2) / D + 0.1 * torch.eye(D)
    weight = 0.3 * torch.randn(K, D, generator=g)
    bias = 0.1 * torch.randn(K, generator=g)
    x = torch.randn(6, D, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return x, y, cov, weight, bias


def test_running_stats_match_numpy_over_all_batches():
    head = build()
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(7, D)) * 2 + 1, [0, 1, 0, 1, 0, 1, 1]),
               (rng.normal(size=(6, D)), [2, 0, 2, 1, 0, 2]),
               (rng.normal(size=(5, D)) - 3, [1, 1, 2, 0, 0])]
    seen = {k: [] for k in range(K)}
    for feats, labels in batches:  # class 2 is absent from the first batch
        head.loss((torch.tensor(feats, dtype=torch.float32), ),
                  samples(labels))
        for f, y in zip(feats.astype(np.float32), labels):
            seen[y].append(f)
    for k in range(K):
        ref = np.stack(seen[k])
        assert head.class_count[k].item() == len(ref)
        np.testing.assert_allclose(
            head.class_mean[k].numpy(), ref.mean(0), atol=1e-5)
        np.testing.assert_allclose(
            head.class_cov[k].numpy(),
            np.cov(ref, rowvar=False, bias=True), atol=1e-5)


def test_closed_form_is_tight_upper_bound_of_expected_ce(problem):
    x, y, cov, weight, bias = problem
    head = build(lambda0=0.05)
    set_stats(head, cov, weight, bias)
    loss = head.loss((x, ), samples(y))['loss'].item()
    mc = mc_expected_ce(x, y, weight, bias, cov, 0.05)
    plain = F.cross_entropy(x @ weight.t() + bias, y).item()
    assert loss >= mc > plain  # Jensen, then convexity of CE in the shift
    assert (loss - mc) / mc < 0.02
    # the closed form itself, written out per sample
    dw = weight[None] - weight[y][:, None]  # (B, K, D)
    quad = torch.einsum('bkd,bde,bke->bk', dw, cov[y], dw)
    ref = F.cross_entropy(x @ weight.t() + bias + 0.025 * quad, y).item()
    assert loss == pytest.approx(ref, rel=1e-5)


def test_sampling_mode_converges_to_expected_ce(problem):
    x, y, cov, weight, bias = problem
    torch.manual_seed(0)
    head = build(lambda0=0.5, mode='sampling', num_samples=20000)
    set_stats(head, cov, weight, bias)
    loss = head.loss((x, ), samples(y))['loss'].item()
    mc = mc_expected_ce(x, y, weight, bias, cov, 0.5, seed=3)
    assert loss == pytest.approx(mc, rel=0.01)
    cf = build(lambda0=0.5)
    set_stats(cf, cov, weight, bias)
    assert cf.loss((x, ), samples(y))['loss'].item() > loss


@pytest.mark.parametrize('mode', ['closed_form', 'sampling'])
def test_zero_lambda_or_no_spread_is_plain_ce(problem, mode):
    x, y, cov, weight, bias = problem
    plain = F.cross_entropy(x @ weight.t() + bias, y)
    head = build(mode=mode)
    set_stats(head, cov, weight, bias)
    head.lambda_scale = 0.0
    assert torch.allclose(head.loss((x, ), samples(y))['loss'], plain)
    # fresh head, one sample per class: statistics exist but have no spread
    head = build(mode=mode)
    set_stats(head, torch.zeros(K, D, D), weight, bias)
    head.class_count.zero_()
    out = head.loss((x[:3], ), samples(y[:3]))['loss']
    assert torch.allclose(out, F.cross_entropy(
        x[:3] @ weight.t() + bias, y[:3]), atol=1e-5)


def test_buffers_checkpoint_gradients_and_predict():
    head = build()
    head.loss((torch.randn(8, D), ), samples([0, 1, 2, 0, 1, 2, 0, 1]))
    state = head.state_dict()
    for key in ('class_mean', 'class_cov', 'class_count'):
        assert key in state
    other = build()
    other.load_state_dict(state)
    assert torch.equal(other.class_cov, head.class_cov)
    assert torch.equal(other.class_count, head.class_count)

    x = torch.randn(8, D, requires_grad=True)
    head.loss((x, ), samples([0, 1, 2, 0, 1, 2, 0, 1]))['loss'].backward()
    assert x.grad.abs().sum() > 0
    assert head.fc.weight.grad.abs().sum() > 0

    preds = head.predict((torch.randn(5, D), ))
    assert len(preds) == 5 and all(isinstance(p, DataSample) for p in preds)
    for p in preds:
        assert p.pred_score.shape == (K, )
        assert p.pred_score.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert p.pred_label.item() == p.pred_score.argmax().item()


@pytest.mark.parametrize('mode', ['closed_form', 'sampling'])
def test_loss_goes_down_on_a_tiny_problem(mode):
    torch.manual_seed(0)
    centres = 2 * torch.randn(K, 8)
    model = torch.nn.Linear(8, D)
    head = build(mode=mode, lambda0=0.5)
    opt = torch.optim.SGD(
        list(model.parameters()) + list(head.parameters()), lr=0.5)
    losses = []
    for _ in range(30):
        y = torch.randint(0, K, (16, ))
        x = centres[y] + 0.5 * torch.randn(16, 8)
        loss = head.loss((model(x), ), samples(y))['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_invalid_arguments_and_labels():
    head = build()
    with pytest.raises(ValueError, match='label 3 .*num_classes=3'):
        head.loss((torch.randn(2, D), ), samples([0, 3]))
    with pytest.raises(ValueError, match='mode'):
        build(mode='bogus')
