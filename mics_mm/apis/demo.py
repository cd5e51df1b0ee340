"""The steps of the end-to-end demo drivers (``tools/demo.py``,
``tools/demo_brainmvp.py``): each step runs as a printed command a user can
type, and the pre-training is summarised by its loss terms."""
import subprocess
from typing import Dict, List, Optional, Sequence

__all__ = ['run_step', 'summarise_losses']


def run_step(cmd: Sequence[str], cwd: str) -> None:
    """Run one step, echoing its command line first.

    Args:
        cmd (Sequence[str]): Program and arguments.
        cwd (str): Folder to run it in (the repository root for the demos).

    Raises:
        subprocess.CalledProcessError: The step failed.
    """
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(list(cmd), cwd=cwd, check=True)


def summarise_losses(records: List[dict],
                     terms: Optional[Sequence[str]] = None
                     ) -> Dict[str, float]:
    """First, last and last-epoch mean of every loss term.

    Args:
        records (list[dict]): Training records, e.g. from
            :func:`~mics_mm.apis.run_files.read_train_scalars`.
        terms (Sequence[str], optional): Terms to report; default: every
            logged key starting with ``loss``, in first-seen order.

    Returns:
        dict[str, float]: ``<term>_first``, ``<term>_last`` and
        ``<term>_last_epoch_mean`` of every term that was logged.
    """
    if terms is None:
        terms = []
        for r in records:
            terms += [k for k in r if k.startswith('loss') and k not in terms]
    out = {}
    last_epoch = max(r.get('epoch', 0) for r in records)
    for term in terms:
        values = [r[term] for r in records if term in r]
        if not values:
            continue
        out[f'{term}_first'] = values[0]
        out[f'{term}_last'] = values[-1]
        tail = [
            r[term] for r in records
            if term in r and r.get('epoch', 0) == last_epoch
        ]
        out[f'{term}_last_epoch_mean'] = sum(tail) / len(tail)
    return out
