"""Write a local file so that its name never holds a half-written file."""
import contextlib
import io
import os
import os.path as osp
from typing import Union

__all__ = ['atomic_write']


def _write_all(f: io.BufferedWriter, data: bytes) -> None:
    """Write ``data`` to the open file ``f`` (a function of its own so that
    tests can interrupt a write half-way)."""
    f.write(data)


def atomic_write(path: str, data: Union[bytes, str]) -> None:
    """Write ``data`` to ``path`` atomically.

    The bytes go to ``.<name>.<pid>.tmp`` in the same folder (created if
    missing), are flushed and fsync'ed, and the temporary file is
    ``os.replace``'d onto ``path`` (atomic on POSIX and Windows within one
    file system): ``path`` holds either its previous content or the complete
    new one. On an exception the temporary file is removed and ``path`` is
    untouched; after a SIGKILL the temporary file may remain (nothing reads
    it; delete it at will).

    Args:
        path (str): Destination; ``~`` is expanded.
        data (bytes | str): Content; ``str`` is encoded as UTF-8.
    """
    path = osp.abspath(osp.expanduser(str(path)))
    folder, name = osp.split(path)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    tmp = osp.join(folder, f'.{name}.{os.getpid()}.tmp')
    try:
        with open(tmp, 'wb') as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError, AttributeError):
        # Make the rename itself durable (POSIX; not possible on Windows).
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
