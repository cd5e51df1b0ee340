"""A local file backend whose writes are atomic (mmengine file backend)."""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ...utils.atomic import atomic_write

__all__ = ['ATOMIC_LOCAL', 'AtomicLocalBackend']

#: The backend's registered name: ``backend_args=dict(backend=ATOMIC_LOCAL)``.
ATOMIC_LOCAL = 'atomic_local'


class AtomicLocalBackend(LocalBackend):
    """mmengine's :class:`~mmengine.fileio.LocalBackend`, except that
    :meth:`put` and :meth:`put_text` write through
    :func:`~mics_mm.utils.atomic.atomic_write` (temporary file, fsync,
    rename): a file being replaced is never seen half-written, even when
    the process is killed mid-write.

    mmengine's ``save_checkpoint`` writes through the file backend that
    ``backend_args`` selects, so ``SafeCheckpointHook`` (which passes
    ``backend_args=dict(backend='atomic_local')`` for local folders) makes
    every checkpoint of a run atomic, with no change to mmengine itself.
    Registered under :data:`ATOMIC_LOCAL` in mmengine's backend registry.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (folders are created)."""
        atomic_write(str(filepath), obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (folders are created)."""
        atomic_write(str(filepath), obj.encode(encoding))


register_backend(ATOMIC_LOCAL, AtomicLocalBackend)
