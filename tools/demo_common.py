"""Helpers shared by the demo drivers (tools/demo.py, tools/demo_brainmvp.py):
run a step as a printed command, read mmengine's logged scalars, summarise
the loss terms."""
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
from plot_curves import find_scalars, load_scalars  # noqa: E402


def run(cmd: List[str]) -> None:
    """Run one step from the repository root, echoing it first."""
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def read_scalars(work_dir: str) -> List[dict]:
    """Training records of mmengine's ``vis_data/scalars.json`` (newest run
    folder of ``work_dir``; read as tools/analysis/plot_curves.py does)."""
    return [r for r in load_scalars(find_scalars(work_dir)) if 'loss' in r]


def summarise_losses(records: List[dict],
                     terms: Optional[Sequence[str]] = None
                     ) -> Dict[str, float]:
    """First, last and last-epoch mean of every loss term.

    Args:
        records (list[dict]): From :func:`read_scalars`.
        terms (Sequence[str], optional): Terms to report; default: every
            logged key starting with ``loss``, in first-seen order.
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


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint mmengine recorded last in ``work_dir`` (relative to
    the repository root)."""
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as f:
        return osp.relpath(f.read().strip(), ROOT)
