"""Model state that a skipped (non-finite) step must not poison: MICS'
queue and the distribution-shift head's class statistics."""
import torch

from mics_mm.utils.non_finite import non_finite_terms, stop_if_non_finite
from mics_mm.models.utils import gather_rows
from mics_mm.registry import MODELS


def test_consistency_head_drops_non_finite_keys():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='MICSConsistencyHead', feat_dim=4, queue_size=8))
    before = head.queue.clone()
    feats = [torch.randn(3, 4), torch.randn(3, 4)]
    bad = [feats[0], feats[1] * float('nan')]
    head.loss(feats, bad)
    head.flush()
    assert torch.equal(head.queue, before) and int(head.queue_ptr) == 0
    head.loss(feats, feats)
    head.flush()
    assert int(head.queue_ptr) == 3 and torch.isfinite(head.queue).all()


def test_dist_shift_head_ignores_non_finite_rows():
    head = MODELS.build(
        dict(type='MICSDistShiftHead', num_classes=2, in_channels=3))
    feats = torch.tensor([[1., 2., 3.], [float('nan'), 0., 0.],
                          [3., 2., 1.]])
    head.update_stats(feats, torch.tensor([0, 0, 1]))
    assert head.class_count.tolist() == [1., 1.]
    assert torch.equal(head.class_mean[0], feats[0])
    assert torch.isfinite(head.class_cov).all()


def test_gather_rows_single_process_is_identity():
    x = torch.randn(3, 2, requires_grad=True)
    out, offset = gather_rows(x, with_grad=True)
    assert out is x and offset == 0
    out, _ = gather_rows(x)
    assert not out.requires_grad and torch.equal(out, x)


def test_non_finite_terms_and_stop():
    log_vars = dict(loss=torch.tensor(float('nan')),
                    loss_a=torch.tensor(1.), loss_b=torch.tensor(
                        float('inf')))
    assert non_finite_terms(log_vars) == ['loss=nan', 'loss_b=inf']
    try:
        stop_if_non_finite(log_vars, 'Model')
    except FloatingPointError as err:
        assert 'Model: non-finite loss (loss=nan, loss_b=inf)' in str(err)
    else:
        raise AssertionError('no error')
    stop_if_non_finite(dict(loss=torch.tensor(1.)), 'Model')
