"""Reading what a training run leaves in its mmengine work dir: the logged
scalars (``<work_dir>/<timestamp>/vis_data/scalars.json``) and the
``last_checkpoint`` pointer."""
import json
import os
import os.path as osp
from typing import List, Optional

__all__ = [
    'SCALARS', 'find_scalars', 'last_checkpoint', 'list_runs',
    'load_scalars', 'read_train_scalars'
]

#: Scalars file of a run folder, written by mmengine's ``LocalVisBackend``.
SCALARS = osp.join('vis_data', 'scalars.json')


def list_runs(work_dir: str) -> List[str]:
    """Sorted run folders of ``work_dir`` that hold scalars.

    Args:
        work_dir (str): An mmengine work dir.

    Returns:
        list[str]: Folder names (timestamps), oldest first.
    """
    return sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, SCALARS)))


def find_scalars(work_dir: str, run: Optional[str] = None) -> str:
    """Path of a run's ``vis_data/scalars.json`` in an mmengine work dir.

    Args:
        work_dir (str): The work dir (``--work-dir`` of tools/train.py), or
            a run folder ``<work_dir>/<timestamp>`` itself.
        run (str, optional): The run's timestamp folder; None: the newest
            run that has scalars (run folders are named by their start
            time, so the newest sorts last). Defaults to None.

    Returns:
        str: The file.

    Raises:
        FileNotFoundError: Nothing to read, with what was looked for.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir {work_dir!r} does not exist.')
    if run is not None:
        path = osp.join(work_dir, run, SCALARS)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path!r} not found; runs with scalars in {work_dir!r}: '
                f'{list_runs(work_dir) or "none"}.')
        return path
    if osp.isfile(osp.join(work_dir, SCALARS)):
        return osp.join(work_dir, SCALARS)
    runs = list_runs(work_dir)
    if not runs:
        raise FileNotFoundError(
            f'no <timestamp>/{SCALARS} under {work_dir!r}. It is written by '
            "mmengine's LocalVisBackend (configs/_base_/default_runtime.py) "
            'while tools/train.py CONFIG --work-dir WORK_DIR runs; pass that '
            'WORK_DIR, or the run folder itself.')
    return osp.join(work_dir, runs[-1], SCALARS)


def load_scalars(path: str) -> List[dict]:
    """Every record of a ``scalars.json`` (JSON lines; blank lines skipped).

    Args:
        path (str): The file.

    Returns:
        list[dict]: The records in file order.

    Raises:
        ValueError: A line that is not a JSON object, with its number.
    """
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{number}: not JSON ({err}); '
                                 'is the file truncated?') from None
            if not isinstance(record, dict):
                raise ValueError(f'{path}:{number}: not a JSON object.')
            records.append(record)
    return records


def read_train_scalars(work_dir: str) -> List[dict]:
    """The training records (those with a ``loss`` key) of the newest run
    of ``work_dir`` that has scalars.

    Args:
        work_dir (str): An mmengine work dir, or a run folder itself (see
            :func:`find_scalars`).

    Returns:
        list[dict]: The records in file order.

    Raises:
        FileNotFoundError: No scalars (see :func:`find_scalars`).
        ValueError: A malformed line (see :func:`load_scalars`).
    """
    return [r for r in load_scalars(find_scalars(work_dir)) if 'loss' in r]


def last_checkpoint(work_dir: str, root: str = '.') -> str:
    """The checkpoint mmengine recorded last in ``work_dir``.

    Args:
        work_dir (str): The work dir, relative to ``root`` unless absolute.
        root (str): Folder that ``work_dir`` and the returned path are
            relative to. Defaults to the current directory.

    Returns:
        str: The checkpoint named by ``<work_dir>/last_checkpoint``,
        relative to ``root``.
    """
    with open(osp.join(root, work_dir, 'last_checkpoint')) as f:
        return osp.relpath(osp.join(root, f.read().strip()), root)
