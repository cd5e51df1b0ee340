"""mics_mm.compat, fix 4: atomic, finite checkpoints and readable errors."""
import os

import pytest
import torch
from mmengine.hooks import CheckpointHook

from mics_mm import compat


class _Killed(BaseException):
    """Stands in for the process dying in the middle of a write."""


def _die_half_way(write):

    def dies(f, data):
        write(f, data[:len(data) // 2])
        raise _Killed()

    return dies


def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    path = tmp_path / 'sub' / 'last_checkpoint'
    compat.atomic_write(str(path), 'first')  # creates the folder
    assert path.read_text() == 'first'
    monkeypatch.setattr(compat, '_write_all',
                        _die_half_way(compat._write_all))
    with pytest.raises(_Killed):
        compat.atomic_write(str(path), 'second, longer content')
    assert path.read_text() == 'first'
    assert os.listdir(path.parent) == ['last_checkpoint']  # no temp file


def test_save_checkpoint_replaces_atomically(tmp_path, monkeypatch):
    from mmengine.runner import save_checkpoint  # the patched name
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint(dict(state_dict=dict(w=torch.ones(3))), str(path))
    good = path.read_bytes()
    monkeypatch.setattr(compat, '_write_all',
                        _die_half_way(compat._write_all))
    with pytest.raises(_Killed):
        save_checkpoint(dict(state_dict=dict(w=torch.zeros(3000))),
                        str(path))
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']


def test_non_finite_weights_are_refused(tmp_path):
    path = tmp_path / 'epoch_2.pth'
    state = dict(a=torch.ones(2), b=torch.tensor([1., float('nan')]),
                 c=torch.tensor([float('inf')]), n=torch.arange(3))
    with pytest.raises(compat.NonFiniteCheckpointError) as err:
        compat.save_checkpoint_atomic(
            dict(state_dict=state, ema_state_dict=dict(d=state['b'])),
            str(path))
    msg = str(err.value)
    assert str(path) in msg and 'state_dict.b (1 of 2)' in msg
    assert 'state_dict.c (1 of 1)' in msg and 'ema_state_dict.d' in msg
    assert 'state_dict.a' not in msg and not path.exists()


def test_other_backends_use_mmengine_writer(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(compat, '_ORIGINAL_SAVE_CHECKPOINT',
                        lambda *args: calls.append(args))
    compat.save_checkpoint_atomic(dict(state_dict={}), 's3://bucket/a.pth')
    compat.save_checkpoint_atomic(
        dict(state_dict={}), str(tmp_path / 'b.pth'),
        backend_args=dict(backend='petrel'))
    assert [c[1] for c in calls] == ['s3://bucket/a.pth',
                                     str(tmp_path / 'b.pth')]


@pytest.mark.parametrize('content', ['half', b'not a checkpoint'])
def test_unreadable_checkpoint_is_named(tmp_path, content):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1000))), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if content == 'half' else content)
    with pytest.raises(compat.CheckpointReadError) as err:
        CheckpointLoader.load_checkpoint(str(path))
    assert str(path) in str(err.value) and 'truncated' in str(err.value)


def test_patch_is_applied_and_idempotent():
    import mmengine.runner as runner_pkg
    from mmengine.runner import checkpoint, runner
    compat.apply_all()
    compat.apply_all()
    for module in (runner_pkg, checkpoint, runner):
        assert module.save_checkpoint is compat.save_checkpoint_atomic
    assert CheckpointHook._save_checkpoint_with_step is \
        compat.checkpoint_hook_save_with_step
    assert compat._ORIGINAL_SAVE_CHECKPOINT is not \
        compat.save_checkpoint_atomic
