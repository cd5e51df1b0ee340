"""The label-efficiency benchmark's reports: ``results.json`` (everything),
``results.md`` (mean +- std tables) and ``results.png`` (metric vs labelled
fraction, one line per method)."""
import json
import os.path as osp
from typing import Dict, List, Sequence

from .tables import TASKS

__all__ = ['markdown', 'wall_time_note', 'plot', 'write_reports']


def markdown(rows: List[dict], metrics: Sequence[str], budget: dict,
             meta: dict) -> str:
    """Mean +- std tables, one per protocol and metric.

    Args:
        rows (list[dict]): Rows of :func:`~mics_mm.benchmark.stats.
            summarise`.
        metrics (Sequence[str]): Metrics to tabulate.
        budget (dict): The common pre-training budget
            (:func:`~mics_mm.benchmark.stats.check_equal_budgets`).
        meta (dict): ``task``, ``command``, ``machine``,
            ``finetune_iters``, ``finetune_batch`` and ``seeds``.

    Returns:
        str: The Markdown text: a header, then per protocol and metric a
        table with a row per (backbone, method) and a column per labelled
        fraction (``-`` where no value).
    """
    lines = [
        f'# Label efficiency ({meta["task"]})', '',
        f'Command: `{meta["command"]}`  ', f'Machine: {meta["machine"]}  ',
        f'Pre-training budget (every method): {budget}  ',
        f'Fine-tuning: {meta["finetune_iters"]} iterations x batch '
        f'{meta["finetune_batch"]}; seeds {meta["seeds"]}; mean +- std.', ''
    ]
    fractions = sorted({r['fraction'] for r in rows})
    for protocol in sorted({r['protocol'] for r in rows}):
        for metric in metrics:
            lines += [
                f'## {protocol}: {metric}', '',
                '| method | backbone | ' + ' | '.join(
                    f'{100 * f:g} % labels' for f in fractions) + ' |',
                '| --- | --- |' + ' --- |' * len(fractions)
            ]
            keys = sorted({(r['backbone'], r['method']) for r in rows
                           if r['protocol'] == protocol})
            for backbone, method in keys:
                cells = []
                for f in fractions:
                    r = next((r for r in rows if r['protocol'] == protocol
                              and r['method'] == method and
                              r['backbone'] == backbone and
                              r['fraction'] == f), None)
                    if r is None or r[f'{metric}_mean'] is None:
                        cells.append('-')
                    else:
                        cells.append(f'{r[metric + "_mean"]:.3f} +- '
                                     f'{r[metric + "_std"]:.3f}')
                lines.append(f'| {method} | {backbone} | ' +
                             ' | '.join(cells) + ' |')
            lines.append('')
    return '\n'.join(lines)


def wall_time_note(result: dict) -> str:
    """The closing line of ``results.md``: this invocation's wall time, the
    jobs' own run time and how many jobs were reused.

    Args:
        result (dict): The benchmark's result (``seconds``,
            ``job_seconds``, ``reused_jobs``, ``pretrain``, ``runs``).

    Returns:
        str: One line, ending in a newline.
    """
    jobs = len(result['pretrain']) + len(result['runs'])
    return (f'Wall time of this invocation: {result["seconds"]:.0f} s; '
            f'the jobs\' own run time: {result["job_seconds"]:.0f} s '
            f'({len(result["reused_jobs"])} of {jobs} jobs '
            'reused from an earlier invocation with --resume).\n')


def plot(rows: List[dict], metrics: Sequence[str], path: str,
         title: str) -> None:
    """Metric vs labelled fraction (log scale), mean with std error bars.

    One panel per (protocol, backbone) and metric, one colour per method
    across panels.

    Args:
        rows (list[dict]): Rows of :func:`~mics_mm.benchmark.stats.
            summarise`.
        metrics (Sequence[str]): Metrics, one row of panels each.
        path (str): PNG to write.
        title (str): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = sorted({(r['protocol'], r['backbone']) for r in rows})
    # one colour per method in every panel
    methods = sorted({r['method'] for r in rows})
    palette = plt.get_cmap('tab10')
    colours = {m: palette(i % 10) for i, m in enumerate(methods)}
    fig, axes = plt.subplots(
        len(metrics), len(panels), figsize=(4.2 * len(panels),
                                            3.4 * len(metrics)),
        squeeze=False)
    for col, (protocol, backbone) in enumerate(panels):
        for row_i, metric in enumerate(metrics):
            ax = axes[row_i][col]
            for method in methods:
                pts = sorted((r['fraction'], r[f'{metric}_mean'],
                              r[f'{metric}_std']) for r in rows
                             if r['method'] == method and r['protocol'] ==
                             protocol and r['backbone'] == backbone and
                             r[f'{metric}_mean'] is not None)
                if not pts:
                    continue
                xs, ys, es = zip(*pts)
                ax.errorbar([100 * x for x in xs], ys, yerr=es, marker='o',
                            capsize=3, label=method, color=colours[method])
            ax.set_xscale('log')
            ax.set_xlabel('labelled fraction (%)')
            ax.set_ylabel(metric)
            ax.set_title(f'{protocol}, {backbone}')
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_reports(result: dict, out: str, title: str) -> Dict[str, str]:
    """Write ``results.json``, ``results.md`` and ``results.png``.

    Args:
        result (dict): The benchmark's result
            (:func:`~mics_mm.benchmark.harness.run_benchmark`).
        out (str): Output folder (exists).
        title (str): Title of the plot.

    Returns:
        dict: ``json``, ``md`` and ``png`` -> the paths written.
    """
    metrics = TASKS[result['meta']['task']]['metrics']
    paths = dict(
        json=osp.join(out, 'results.json'),
        md=osp.join(out, 'results.md'),
        png=osp.join(out, 'results.png'))
    with open(paths['json'], 'w') as f:
        json.dump(result, f, indent=1)
    with open(paths['md'], 'w') as f:
        f.write(
            markdown(result['summary'], metrics, result['budget'],
                     result['meta']))
        f.write(wall_time_note(result))
    plot(result['summary'], metrics, paths['png'], title)
    return paths
