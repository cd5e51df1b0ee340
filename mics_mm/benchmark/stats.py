"""Budget checks, mean +- std summaries and the issue's targets of the
label-efficiency benchmark."""
import statistics
from typing import Dict, List, Optional, Sequence

__all__ = [
    'check_equal_budgets', 'check_equal_finetune_iters', 'summarise',
    'targets'
]


def check_equal_budgets(pretrained: Dict[str, dict],
                        exempt_images: Sequence[str] = ()) -> dict:
    """Raise unless every pre-training ran the same iterations and batch
    size (samples), and looked at the same number of images.

    Args:
        pretrained (dict): ``name -> dict(iters, batch_size,
            images_per_sample)``; ``name`` is ``<method>_<backbone>``.
        exempt_images (Sequence[str]): Methods that see fewer images by
            design (one modality of the pair: ``mae-wli``); they must still
            match iterations and batch size.

    Returns:
        dict: The common ``iters``, ``batch_size``, ``samples_seen`` and
        ``images_seen`` (per pre-training); empty when nothing was
        pre-trained.

    Raises:
        RuntimeError: Unequal iterations or batch sizes, or unequal images
            seen among the methods that are not exempt.
    """
    budgets = {(p['iters'], p['batch_size'])
               for p in pretrained.values()}
    if len(budgets) > 1:
        detail = ', '.join(f'{k}: {v["iters"]} iterations x {v["batch_size"]}'
                           for k, v in pretrained.items())
        raise RuntimeError(
            f'label_efficiency: unequal pre-training budgets ({detail}); '
            'every method must run the same iterations and batch size.')
    if not budgets:
        return {}
    iters, batch = budgets.pop()
    images = {
        name: iters * batch * p.get('images_per_sample', 1)
        for name, p in pretrained.items()
    }
    counted = {
        n: v
        for n, v in images.items()
        if n.rsplit('_', 1)[0] not in exempt_images
    }
    if len(set(counted.values())) > 1:
        raise RuntimeError(
            f'label_efficiency: unequal images seen in pre-training '
            f'({counted}); give every method the same images per sample '
            '(e.g. both modalities), or name single-modality variants as '
            'such (mae-wli).')
    return dict(iters=iters, batch_size=batch, samples_seen=iters * batch,
                images_seen=images)


def check_equal_finetune_iters(runs: Sequence[dict]) -> None:
    """Raise unless every fine-tuning run trained the same iterations.

    Args:
        runs (Sequence[dict]): Fine-tuning runs, each with ``iters``.

    Raises:
        RuntimeError: Two runs trained different numbers of iterations.
    """
    ft_iters = {r['iters'] for r in runs}
    if len(ft_iters) > 1:
        raise RuntimeError(f'label_efficiency: unequal fine-tuning budgets '
                           f'{sorted(ft_iters)}')


def summarise(runs: List[dict], metrics: Sequence[str]) -> List[dict]:
    """Mean and sample standard deviation over seeds of each cell.

    Args:
        runs (list[dict]): Fine-tuning runs: ``method``, ``backbone``,
            ``protocol``, ``fraction`` and ``metrics`` (name -> value).
        metrics (Sequence[str]): Metric names to summarise.

    Returns:
        list[dict]: One row per (method, backbone, protocol, fraction),
        sorted by protocol, backbone, method, fraction: those four keys,
        ``n`` (runs) and per metric ``<metric>_mean`` (None without values)
        and ``<metric>_std`` (0.0 for fewer than two values).
    """
    groups: Dict[tuple, List[dict]] = {}
    for r in runs:
        key = (r['method'], r['backbone'], r['protocol'], r['fraction'])
        groups.setdefault(key, []).append(r)
    rows = []
    for (method, backbone, protocol, fraction), items in sorted(
            groups.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0],
                                            kv[0][3])):
        row = dict(method=method, backbone=backbone, protocol=protocol,
                   fraction=fraction, n=len(items))
        for m in metrics:
            values = [r['metrics'][m] for r in items
                      if r['metrics'].get(m) is not None]
            mean: Optional[float] = statistics.mean(
                values) if values else None
            row[f'{m}_mean'] = mean
            row[f'{m}_std'] = statistics.stdev(values) if len(
                values) > 1 else 0.0
        rows.append(row)
    return rows


def targets(rows: List[dict], ours: str, fraction: float = 0.1) -> dict:
    """Issue targets at ``fraction`` labels, per backbone and protocol:
    ours >= every baseline's mean accuracy, and >= scratch + 5 points.

    The metric is ``accuracy_mean`` when the rows have it, else
    ``mDice_mean``.

    Args:
        rows (list[dict]): Rows of :func:`summarise`.
        ours (str): The method held to the targets.
        fraction (float): Labelled fraction the targets are read at.

    Returns:
        dict: ``'<backbone>/<protocol>' -> dict(ours, best_baseline,
        best_baseline_value, margin_over_best, meets_best_baseline)``, plus
        ``margin_over_scratch`` and ``meets_scratch_plus_5`` where scratch
        ran; cells without a baseline are left out.
    """
    out = {}
    key = 'accuracy_mean' if rows and 'accuracy_mean' in rows[0] else \
        'mDice_mean'
    cells = {(r['method'], r['backbone'], r['protocol']): r[key]
             for r in rows if abs(r['fraction'] - fraction) < 1e-9}
    for (method, backbone, protocol), value in cells.items():
        if method != ours:
            continue
        others = {m: v for (m, b, p), v in cells.items()
                  if b == backbone and p == protocol and m != ours}
        if not others:
            continue
        best = max(others, key=others.get)
        entry = dict(
            ours=value,
            best_baseline=best,
            best_baseline_value=others[best],
            margin_over_best=value - others[best],
            meets_best_baseline=value >= others[best])
        if 'scratch' in others:
            entry['margin_over_scratch'] = value - others['scratch']
            entry['meets_scratch_plus_5'] = (
                value >= others['scratch'] + 0.05)
        out[f'{backbone}/{protocol}'] = entry
    return out
