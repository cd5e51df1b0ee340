"""Checkpoint content as tensors and plain containers only.

torch >= 2.6 loads with ``weights_only=True`` by default: the unpickler
accepts tensors, numbers, strings, ``None`` and plain containers, and refuses
any other class unless a process allowlists it
(``torch.serialization.add_safe_globals``). Two things in an mmengine
checkpoint are outside that set: the message hub's ``HistoryBuffer`` objects
(which pickle their statistics methods through ``builtins.getattr``: an
allowlisted ``getattr`` would let a file reach any attribute, so it cannot be
allowlisted safely) and NumPy scalars / arrays (e.g. the ``eta`` of the
runtime info). :func:`to_plain` rewrites them as tagged plain dicts before a
checkpoint is saved and :func:`from_plain` restores them after it is loaded
(``SafeCheckpointHook``), so the checkpoints this project writes load with
``weights_only=True`` and nothing is allowlisted (docs/reliability.md,
"Trusted loading").
"""
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['to_plain', 'from_plain', 'PLAIN_TAG']

#: Key marking a dict that stands for a non-plain object.
PLAIN_TAG = '__mics_mm_plain__'


def to_plain(obj: Any) -> Any:
    """Replace ``HistoryBuffer`` objects and NumPy values in nested
    dicts / lists / tuples by plain equivalents (a copy; ``obj`` is left
    as it is).

    - ``HistoryBuffer`` -> ``{PLAIN_TAG: 'HistoryBuffer', 'max_length',
      'log': float64 tensor, 'count': int64 tensor}``;
    - ``np.ndarray`` (numeric) -> ``{PLAIN_TAG: 'ndarray', 'data': tensor}``;
    - a NumPy scalar -> the Python number (``.item()``).

    Args:
        obj (Any): Checkpoint content.

    Returns:
        Any: The same structure with plain leaves.
    """
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {
            PLAIN_TAG: 'HistoryBuffer',
            'max_length': int(obj.max_length),
            'log': torch.from_numpy(np.asarray(log, dtype=np.float64).copy()),
            'count': torch.from_numpy(
                np.asarray(count, dtype=np.int64).copy()),
        }
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in 'biuf':
            raise TypeError(f'cannot store a NumPy array of dtype '
                            f'{obj.dtype} in a plain checkpoint')
        return {PLAIN_TAG: 'ndarray', 'data': torch.from_numpy(obj.copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain` (a copy; other values pass through).

    Args:
        obj (Any): Loaded checkpoint content.

    Returns:
        Any: The structure with ``HistoryBuffer`` objects and arrays back.
    """
    if isinstance(obj, dict):
        tag = obj.get(PLAIN_TAG)
        if tag == 'HistoryBuffer':
            return HistoryBuffer(obj['log'].numpy().tolist(),
                                 obj['count'].numpy().tolist(),
                                 obj['max_length'])
        if tag == 'ndarray':
            return obj['data'].numpy().copy()
        return type(obj)((k, from_plain(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
        return type(obj)(from_plain(v) for v in obj)
    return obj
