"""Never let a new run overwrite another run's checkpoints unasked.

docs/reliability.md, "No data loss".
"""
import glob
import logging
import os.path as osp
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from .config_check import UsageError

__all__ = ['CHECKPOINT_PATTERNS', 'existing_checkpoints', 'check_work_dir']

#: Files in a work dir that belong to a run.
CHECKPOINT_PATTERNS = ('epoch_*.pth', 'iter_*.pth', 'best_*.pth',
                       'last_checkpoint')


def existing_checkpoints(work_dir: str) -> List[str]:
    """Names of the run files (:data:`CHECKPOINT_PATTERNS`) in
    ``work_dir``."""
    found = set()
    for pattern in CHECKPOINT_PATTERNS:
        found.update(
            osp.basename(p) for p in glob.glob(osp.join(work_dir, pattern))
            if osp.isfile(p))
    return sorted(found)


def _latest(work_dir: str, names: List[str]) -> Optional[str]:
    ckpts = [osp.join(work_dir, n) for n in names if n.endswith('.pth')]
    return max(ckpts, key=osp.getmtime) if ckpts else None


def check_work_dir(work_dir: str,
                   resume: bool = False,
                   load_from: Optional[str] = None,
                   overwrite: bool = False) -> None:
    """Refuse to start a new run where another run's checkpoints are.

    Args:
        work_dir (str): The run's work dir.
        resume (bool): ``cfg.resume``. With ``load_from=None`` it is
            mmengine's auto-resume from ``<work_dir>/last_checkpoint``
            (``tools/train.py --resume``).
        load_from (str, optional): ``cfg.load_from``: with ``resume`` the
            checkpoint to resume from (``--resume PATH``).
        overwrite (bool): ``cfg.overwrite_work_dir`` (``--overwrite``):
            start a new run there anyway.

    Raises:
        UsageError: The work dir holds checkpoints and the run neither
            resumes nor overwrites; or an auto-resume finds a
            ``last_checkpoint`` pointing to a missing file, or checkpoints
            but no ``last_checkpoint`` (mmengine would silently start from
            scratch and overwrite them).
    """
    found = existing_checkpoints(work_dir)
    if not found:
        return
    latest = _latest(work_dir, found)
    shown = ', '.join(found[:6]) + (', ...' if len(found) > 6 else '')
    if resume and load_from is None:
        pointer = osp.join(work_dir, 'last_checkpoint')
        # what mmengine's auto-resume reads (None: no pointer file)
        target = find_latest_checkpoint(work_dir)
        if target is None:
            raise UsageError(
                f'--resume: {work_dir!r} holds checkpoints ({shown}) but no '
                'last_checkpoint file, so mmengine would start from scratch '
                'and overwrite them. Name the checkpoint to resume from: '
                f'--resume {latest or "PATH"}.')
        if not target or not osp.isfile(target):
            raise UsageError(
                f'--resume: {pointer!r} points to {target!r}, which does not '
                f'exist. Name a checkpoint to resume from: --resume '
                f'{latest or "PATH"}.')
        return
    if resume:
        return  # an explicit checkpoint: the user chose
    if overwrite:
        print_log(
            f'--overwrite: {work_dir!r} holds {shown}; checkpoints of the '
            'new run replace same-named files there.',
            logger='current',
            level=logging.WARNING)
        return
    raise UsageError(
        f'work dir {work_dir!r} already holds checkpoints of another run '
        f'({shown}); a new run there would overwrite them. Add --resume to '
        'continue that run (from last_checkpoint), --work-dir NEW_DIR to '
        'start a new run elsewhere, or --overwrite to start over in this '
        'folder (with mmpretrain\'s packaged tools/train.py: --cfg-options '
        'overwrite_work_dir=True).')
