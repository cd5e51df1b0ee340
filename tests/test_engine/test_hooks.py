"""The MICS schedule hooks on a stand-in runner."""
import logging
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mics_mm.registry import HOOKS, MODELS


def fake_runner(head, n_samples=10, n_batches=4, it=0, resume=False):
    dataset = list(range(n_samples))
    loader = type('Loader', (), {
        'dataset': dataset,
        '__len__': lambda self: n_batches
    })()
    return SimpleNamespace(
        model=SimpleNamespace(head=head),
        train_dataloader=loader,
        _train_loop=SimpleNamespace(dataloader=loader),
        iter=it,
        _resume=resume,
        logger=logging.getLogger('test'))


def test_alpha_warmup_ramps_over_first_epoch():
    head = MODELS.build(dict(type='MICSConsistencyHead', feat_dim=4,
                             queue_size=0))
    hook = HOOKS.build(dict(type='MICSAlphaWarmupHook', warmup_epochs=1))
    seen = []
    for it in range(6):
        hook.before_train_iter(fake_runner(head, n_batches=4, it=it), it)
        seen.append(head.alpha_scale)
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_queue_size_hook_caps_queue_and_loss_uses_active_part():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='MICSConsistencyHead', feat_dim=4,
                             queue_size=32, alpha=0.0))
    HOOKS.build(dict(type='MICSQueueSizeHook',
                     max_fraction=0.5)).before_run(fake_runner(head, 10))
    assert head.queue_len == 5 and head.queue.shape[1] == 32
    feats = [torch.randn(3, 4), torch.randn(3, 4)]
    loss = head.loss(feats, feats)
    # Reference with only the 5 active queue slots as extra negatives.
    f = [F.normalize(x, dim=-1) for x in feats]
    ref = 0
    for a, b in ((0, 1), (1, 0)):
        keys = torch.cat([f[b], head.queue[b, :5]])
        logits = f[a] @ keys.t() / 0.07
        ref += F.cross_entropy(logits, torch.arange(3))
    assert torch.allclose(loss, ref / 2, atol=1e-5)
    head.flush()
    head.loss(feats, feats)
    head.flush()
    assert int(head.queue_ptr) == 1  # 6 keys wrapped in 5 slots
    # A large data set leaves the configured size alone.
    big = MODELS.build(dict(type='MICSConsistencyHead', feat_dim=4,
                            queue_size=32))
    HOOKS.build(dict(type='MICSQueueSizeHook')).before_run(
        fake_runner(big, 1000))
    assert big.queue_len == 32


def test_random_state_hook_restores_only_on_resume():
    hook = HOOKS.build(dict(type='RandomStateHook'))
    ckpt = {}
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    hook.before_save_checkpoint(None, ckpt)
    expected = (torch.rand(2), random.random(), np.random.rand())
    torch.manual_seed(99)
    hook.after_load_checkpoint(fake_runner(None, resume=False), ckpt)
    assert not torch.equal(torch.rand(2), expected[0])
    hook.after_load_checkpoint(fake_runner(None, resume=True), ckpt)
    got = (torch.rand(2), random.random(), np.random.rand())
    assert torch.equal(got[0], expected[0])
    assert got[1:] == pytest.approx(expected[1:])
