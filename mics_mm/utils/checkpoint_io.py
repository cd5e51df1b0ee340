"""Read checkpoints safely and say exactly what is wrong with a bad one.

Checkpoints are read with ``torch.load(weights_only=True)`` (torch's
default since 2.6): tensors and plain containers only, nothing that can run
code while unpickling. The checkpoints this project writes hold nothing
else (:mod:`.plain_state`). A file that cannot be read raises
:class:`CheckpointReadError` naming the file and the fix; a file that holds
other Python objects (written by an older mics_mm or another tool) raises
:class:`UntrustedCheckpointError` naming the objects and the one-off
conversion for a file the user trusts (docs/reliability.md, "Trusted
loading").
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, List

import torch

__all__ = [
    'CheckpointReadError', 'UntrustedCheckpointError',
    'NonFiniteCheckpointError', 'read_checkpoint', 'explain_read_error',
    'is_read_error', 'non_finite_tensors'
]

#: The one-off conversion of a trusted checkpoint, shown in messages.
CONVERT_CMD = ('python tools/model_converters/plain_checkpoint.py '
               '{src} {src_stem}_plain.pth')


class CheckpointReadError(RuntimeError):
    """A checkpoint file exists but cannot be read (truncated, corrupt, not
    a checkpoint)."""


class UntrustedCheckpointError(CheckpointReadError):
    """A checkpoint holds Python objects that ``weights_only`` loading
    refuses."""


class NonFiniteCheckpointError(FloatingPointError):
    """A checkpoint about to be saved holds NaN / inf weights."""


def is_read_error(err: BaseException) -> bool:
    """Whether ``err``, raised by ``torch.load``, means the file is not a
    readable checkpoint (as opposed to, e.g., a missing file)."""
    if isinstance(err, (pickle.UnpicklingError, EOFError,
                        zipfile.BadZipFile, UnicodeDecodeError)):
        return True
    text = str(err)
    return isinstance(err, (RuntimeError, ValueError)) and any(
        s in text for s in ('PytorchStreamReader', 'zip archive',
                            'Weights only load failed', 'invalid load key',
                            'unpickl', 'magic number'))


def _unsafe_globals(filename: str) -> List[str]:
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # noqa: BLE001 (not a zip checkpoint: nothing to list)
        return []


def explain_read_error(filename: str,
                       err: BaseException) -> CheckpointReadError:
    """Turn a ``torch.load`` error on ``filename`` into the error to raise.

    Args:
        filename (str): The checkpoint.
        err (BaseException): What ``torch.load`` raised.

    Returns:
        CheckpointReadError: :class:`UntrustedCheckpointError` when the file
        is a readable checkpoint holding objects ``weights_only`` refuses,
        else :class:`CheckpointReadError`; both name the file and the fix.
    """
    size = os.path.getsize(filename) if osp.isfile(filename) else 0
    unsafe = _unsafe_globals(filename) if 'Weights only' in str(err) else []
    if unsafe:
        stem = osp.splitext(filename)[0]
        return UntrustedCheckpointError(
            f'Checkpoint {filename!r} holds Python objects beyond tensors and '
            f'plain containers ({", ".join(sorted(unsafe)[:6])}), written by '
            'an older mics_mm or another tool. torch refuses to unpickle '
            'them by default because unpickling can run code. If you trust '
            'the file, convert it once: '
            + CONVERT_CMD.format(src=filename, src_stem=stem)
            + ' and use the converted file (docs/reliability.md, "Trusted '
            'loading").')
    return CheckpointReadError(
        f'Cannot read checkpoint {filename!r} ({size} bytes; '
        f'{type(err).__name__}: {str(err)[:300]}). If it is truncated or '
        'corrupt (e.g. copied, or written by another tool, while it was '
        'being saved) or not a PyTorch checkpoint, give another one '
        '(`--resume PATH`, `load_from=PATH`) or re-create it.')


def read_checkpoint(filename: str,
                    map_location: Any = 'cpu') -> Dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``.

    Local paths are read here; ``http(s)://`` and other schemes go through
    mmengine's ``CheckpointLoader`` (downloads, ``s3://``, ...).

    Args:
        filename (str): Path or URL; ``~`` is expanded.
        map_location (Any): As :func:`torch.load`. Defaults to 'cpu'.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: The local file does not exist.
        CheckpointReadError: It cannot be read; names the file and the fix
            (:class:`UntrustedCheckpointError` for foreign objects).
    """
    if '://' in str(filename):
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(
            filename, map_location=map_location)
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} not found.')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 (zip, pickle, EOF errors ...)
        if is_read_error(err):
            raise explain_read_error(filename, err) from err
        raise


def non_finite_tensors(checkpoint: Dict[str, Any]) -> List[str]:
    """Floating-point tensors of a checkpoint's state dicts (``state_dict``
    and any other top-level ``*state_dict`` entry, e.g. an EMA copy) that
    hold NaN or inf, with the count of bad values.

    Args:
        checkpoint (dict): A checkpoint as mmengine builds it.

    Returns:
        list[str]: E.g. ``['state_dict.backbone.conv1.weight (12 of 432)']``.
    """
    bad = []
    for key, states in checkpoint.items():
        if not (isinstance(key, str) and key.endswith('state_dict')
                and isinstance(states, dict)):
            continue
        for name, value in states.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                count = int((~torch.isfinite(value)).sum())
                if count:
                    bad.append(f'{key}.{name} ({count} of {value.numel()})')
    return bad


