"""Plot the loss and metric curves of an mmengine work dir.

mmengine's ``LocalVisBackend`` writes every logged scalar of a run to
``<work_dir>/<timestamp>/vis_data/scalars.json`` (one JSON record per line).
This tool reads the newest run that has one (or ``--run STAMP``) and draws
one panel per curve::

    python tools/analysis/plot_curves.py work_dirs/demo/run_<stamp>/finetune \\
        --out curves.png

- **Training** records (those with a loss): every loss term (a key whose
  last dotted part starts with ``loss``: ``loss``, ``loss_recon``,
  ``decode.loss_ce``, ``aux_wli.loss``) and every other training scalar
  (``temperature``, ``unsup_pass_ratio``, ``decode.acc_seg``, learning
  rates, ...) against the iteration. Timing and counters (``time``,
  ``data_time``, ``memory``, ``epoch``, ``iter``, ``step``, ``base_lr``,
  ``num_*``) are left out.
- **Validation** records (no loss): every numeric metric (``accuracy``,
  ``f1_macro``, ``mDice``, ...) against its ``step`` (the epoch for
  epoch-based training, else the iteration), marked with dots.
"""
import argparse
import math
import os
import os.path as osp
from typing import Dict, List, Tuple

from mics_mm.apis import find_scalars, load_scalars

# Bookkeeping keys, not curves (also as the last dotted part:
# ``generator.base_lr``).
SKIP_KEYS = frozenset(('time', 'data_time', 'memory', 'epoch', 'iter', 'step',
                       'eta', 'base_lr'))
COLS = 3
PANEL = (3.4, 2.4)  # inches per panel
TITLE = 0.35  # inches for the figure title


def is_loss_key(key: str) -> bool:
    """``loss``, ``loss_x``, ``decode.loss_ce``, ``aux_wli.loss``..."""
    return key.rsplit('.', 1)[-1].startswith('loss')


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def split_curves(records: List[dict]) -> Tuple[Dict, Dict, str]:
    """Sort the records into training and validation curves.

    Args:
        records (list[dict]): From :func:`load_scalars`.

    Returns:
        tuple: ``train`` (key -> (x, y) lists, against ``iter`` or
        ``step``; loss terms first, in first-seen order, then the other
        scalars), ``val`` (metric -> (x, y) against ``step``) and the name
        of the validation step (``'epoch'`` when the training records carry
        epochs, else ``'iteration'``).
    """
    train: Dict[str, Tuple[list, list]] = {}
    val: Dict[str, Tuple[list, list]] = {}
    by_epoch = False
    for record in records:
        is_train = any(is_loss_key(k) for k in record)
        by_epoch |= is_train and 'epoch' in record
        x = record.get('iter', record.get('step')) if is_train else \
            record.get('step')
        if x is None:
            continue
        curves = train if is_train else val
        for key, value in record.items():
            last = key.rsplit('.', 1)[-1]
            if (last in SKIP_KEYS or last.startswith('num_')
                    or not _is_number(value)):
                continue
            xs, ys = curves.setdefault(key, ([], []))
            xs.append(x)
            ys.append(value)
    losses = [k for k in train if is_loss_key(k)]
    others = [k for k in train if not is_loss_key(k)]
    train = {k: train[k] for k in losses + others}
    return train, val, 'epoch' if by_epoch else 'iteration'


def figure_size(panels: int) -> Tuple[float, float]:
    """Figure size in inches for ``panels`` panels (PNG: size x dpi)."""
    rows = math.ceil(panels / COLS)
    cols = min(panels, COLS)
    return (cols * PANEL[0], rows * PANEL[1] + TITLE)


def plot_curves(train: Dict, val: Dict, val_step: str, title: str,
                path: str, dpi: int = 80) -> str:
    """One panel per curve: training curves (lines), then validation
    metrics (lines with dots).

    Args:
        train (dict): Key -> (iterations, values).
        val (dict): Metric -> (steps, values).
        val_step (str): Name of the validation x axis.
        title (str): Figure title.
        path (str): Output PNG; parent folders are created.
        dpi (int): Dots per inch. Defaults to 80.

    Returns:
        str: The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [(k, xy, 'iteration', 'tab:blue') for k, xy in train.items()]
    panels += [(k, xy, val_step, 'tab:green') for k, xy in val.items()]
    width, height = figure_size(len(panels))
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    rows = math.ceil(len(panels) / COLS)
    cols = min(len(panels), COLS)
    for i, (key, (xs, ys), xlabel, colour) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        is_val = colour == 'tab:green'
        ax.plot(xs, ys, color=colour, linewidth=1.0,
                marker='o' if is_val else None, markersize=3)
        ax.set_title(f'{key} (val)' if is_val else key, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / height, va='top')
    fig.tight_layout(rect=(0, 0, 1, 1 - TITLE / height))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', help='mmengine work dir (or run folder)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument(
        '--run', help='timestamp folder of the run (default: the newest '
        'with scalars)')
    parser.add_argument('--dpi', type=int, default=80)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Read, plot, and return what was plotted."""
    args = parse_args(argv)
    try:
        path = find_scalars(args.work_dir, args.run)
        records = load_scalars(path)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    train, val, val_step = split_curves(records)
    if not train and not val:
        raise SystemExit(
            f'error: {path!r} holds no numeric scalars with an iteration or '
            'step; did the run log anything (LoggerHook interval longer '
            'than the run)?')
    run = osp.basename(osp.dirname(osp.dirname(path)))
    title = f'{osp.normpath(args.work_dir)}  (run {run})'
    plot_curves(train, val, val_step, title, args.out, args.dpi)
    print(f'saved {args.out}: {len(train)} training and {len(val)} '
          f'validation curves from {path}')
    return dict(scalars=path, train=list(train), val=list(val),
                val_step=val_step, out=args.out)


if __name__ == '__main__':
    main()
