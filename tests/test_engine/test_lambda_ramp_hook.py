"""MICSLambdaRampHook on a stand-in runner."""
from types import SimpleNamespace

import pytest

from mics_mm.registry import HOOKS, MODELS


def run_ramp(hook, head, max_iters, iters):
    seen = []
    for it in iters:
        runner = SimpleNamespace(
            model=SimpleNamespace(head=head), iter=it, max_iters=max_iters)
        hook.before_train_iter(runner, it)
        seen.append(getattr(head, 'lambda_scale', None))
    return seen


def test_ramp_over_whole_schedule_and_resume():
    head = MODELS.build(
        dict(type='MICSDistShiftHead', num_classes=2, in_channels=3))
    hook = HOOKS.build(dict(type='MICSLambdaRampHook'))
    assert run_ramp(hook, head, 4, range(5)) == [0.25, 0.5, 0.75, 1.0, 1.0]
    # resume-safe: depends on runner.iter only
    assert run_ramp(hook, head, 4, [2]) == [0.75]
    assert head.lambda_ == pytest.approx(0.5 * 0.75)


def test_ramp_fraction_and_off():
    head = SimpleNamespace(lambda_scale=0.0)
    hook = HOOKS.build(dict(type='MICSLambdaRampHook', ramp_fraction=0.5))
    assert run_ramp(hook, head, 8, range(6)) == [0.25, 0.5, 0.75, 1, 1, 1]
    hook = HOOKS.build(dict(type='MICSLambdaRampHook', ramp_fraction=0))
    assert run_ramp(hook, head, 8, [0]) == [1.0]


def test_head_without_lambda_scale_is_skipped():
    head = SimpleNamespace()
    hook = HOOKS.build(dict(type='MICSLambdaRampHook'))
    run_ramp(hook, head, 4, [0])
    assert not hasattr(head, 'lambda_scale')
    runner = SimpleNamespace(model=SimpleNamespace(), iter=0, max_iters=4)
    hook.before_train_iter(runner, 0)  # no head at all
