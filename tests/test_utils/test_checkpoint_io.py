"""Plain checkpoint content, safe reading, atomic writes."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from mics_mm.utils import atomic
from mics_mm.utils.atomic import atomic_write
from mics_mm.utils.checkpoint_io import (CheckpointReadError,
                                         UntrustedCheckpointError,
                                         non_finite_tensors, read_checkpoint)
from mics_mm.utils.plain_state import PLAIN_TAG, from_plain, to_plain

REPO = Path(__file__).resolve().parents[2]


class _Killed(BaseException):
    """Stands in for the process dying in the middle of a write."""


def _die_half_way(write):

    def dies(f, data):
        write(f, data[:len(data) // 2])
        raise _Killed()

    return dies


def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    path = tmp_path / 'sub' / 'last_checkpoint'
    atomic_write(str(path), 'first')  # creates the folder
    assert path.read_text() == 'first'
    monkeypatch.setattr(atomic, '_write_all',
                        _die_half_way(atomic._write_all))
    with pytest.raises(_Killed):
        atomic_write(str(path), 'second, longer content')
    assert path.read_text() == 'first'
    assert os.listdir(path.parent) == ['last_checkpoint']  # no temp file


def _hub():
    return dict(
        log_scalars={'loss': HistoryBuffer([1., 2., 3.5], [1, 1, 2], 5)},
        runtime_info=dict(eta=np.float64(12.5), iter=np.int64(7),
                          shape=np.arange(4, dtype=np.int32), name='x',
                          pair=(1, np.float32(0.5))),
        resumed_keys=dict(loss=True))


def test_plain_round_trip_through_weights_only_load(tmp_path):
    hub = _hub()
    plain = to_plain(dict(message_hub=hub))
    buffer = plain['message_hub']['log_scalars']['loss']
    assert buffer[PLAIN_TAG] == 'HistoryBuffer'
    assert buffer['log'].tolist() == [1., 2., 3.5]
    assert buffer['count'].tolist() == [1, 1, 2]
    info = plain['message_hub']['runtime_info']
    assert info['eta'] == 12.5 and type(info['eta']) is float
    assert info['iter'] == 7 and type(info['iter']) is int
    assert info['pair'] == (1, 0.5) and type(info['pair'][1]) is float
    path = tmp_path / 'plain.pth'
    torch.save(plain, path)
    loaded = from_plain(torch.load(path, weights_only=True))
    restored = loaded['message_hub']['log_scalars']['loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.max_length == 5
    np.testing.assert_array_equal(restored.data[0], [1., 2., 3.5])
    np.testing.assert_array_equal(restored.data[1], [1, 1, 2])
    assert restored.mean() == pytest.approx((1 + 2 + 3.5) / 4)
    shape = loaded['message_hub']['runtime_info']['shape']
    assert isinstance(shape, np.ndarray) and shape.dtype == np.int32
    np.testing.assert_array_equal(shape, np.arange(4))
    # the original is left as it was
    assert isinstance(hub['log_scalars']['loss'], HistoryBuffer)


@pytest.mark.slow
def test_pickled_objects_are_refused_by_name_with_the_conversion(tmp_path):
    path = tmp_path / 'old.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2)),
                    message_hub=_hub()), path)
    with pytest.raises(UntrustedCheckpointError) as err:
        read_checkpoint(str(path))
    msg = str(err.value)
    assert str(path) in msg and 'HistoryBuffer' in msg
    assert 'tools/model_converters/plain_checkpoint.py' in msg

    # the conversion tool: one trusted load, then plain forever
    out = tmp_path / 'old_plain.pth'
    proc = subprocess.run(
        [sys.executable, 'tools/model_converters/plain_checkpoint.py',
         str(path), str(out)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    ckpt = read_checkpoint(str(out))
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    hub = from_plain(ckpt['message_hub'])
    assert isinstance(hub['log_scalars']['loss'], HistoryBuffer)
    # never over an existing file without --force, never in place
    for dst in (out, path):
        proc = subprocess.run(
            [sys.executable, 'tools/model_converters/plain_checkpoint.py',
             str(path), str(dst)], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode != 0


@pytest.mark.parametrize('content', ['half', b'not a checkpoint', b''])
def test_unreadable_checkpoint_is_named(tmp_path, content):
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(1000))), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2] if content == 'half' else content)
    with pytest.raises(CheckpointReadError) as err:
        read_checkpoint(str(path))
    assert str(path) in str(err.value) and 'truncated' in str(err.value)
    assert not isinstance(err.value, UntrustedCheckpointError)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_checkpoint(str(tmp_path / 'nope.pth'))


def test_non_finite_tensors_named_with_counts():
    state = dict(a=torch.ones(2), b=torch.tensor([1., float('nan')]),
                 c=torch.tensor([float('inf')]), n=torch.arange(3))
    bad = non_finite_tensors(
        dict(state_dict=state, ema_state_dict=dict(d=state['b']),
             meta=dict(x=float('nan'))))
    assert bad == ['state_dict.b (1 of 2)', 'state_dict.c (1 of 1)',
                   'ema_state_dict.d (1 of 2)']
