"""Per-class report of a classifier's test metrics (Markdown, CSV, PNG).

Reads the metrics JSON that ``tools/test.py CONFIG CHECKPOINT --out m.json``
writes for a config evaluated by ``ClsReportMetric`` (the MICS fine-tuning
configs) and writes into ``--out-dir``::

    python tools/analysis/cls_report.py work_dirs/finetune/test_metrics.json \\
        --out-dir work_dirs/finetune/report

- ``report.md``: the overall metrics (accuracy, macro precision / recall /
  F1 / AUC) and a per-class table (precision, recall, F1, one-vs-rest AUC,
  support), with a macro row;
- ``per_class.csv``: the per-class table (an undefined AUC is empty);
- ``confusion_matrix.png``: rows = true, columns = predicted class
  (``mics_mm.evaluation.save_confusion_matrix_png``).

Metric keys may carry an evaluator prefix (``test/accuracy``); it is
removed. Without class names in the JSON the classes are ``class_0``...
"""
import argparse
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from mics_mm.evaluation import save_confusion_matrix_png

PER_CLASS = ('precision_per_class', 'recall_per_class', 'f1_per_class',
             'support_per_class')
COLUMNS = ('precision', 'recall', 'f1', 'auc', 'support')


def load_metrics(path: str) -> dict:
    """Read a ``ClsReportMetric`` JSON and check it.

    Args:
        path (str): The JSON written by ``tools/test.py ... --out``.

    Returns:
        dict: The metrics with any ``prefix/`` removed from the keys, and
        ``classes`` filled in.

    Raises:
        SystemExit: A missing file or key, or inconsistent lengths, with
        what to do.
    """
    if not osp.isfile(path):
        raise SystemExit(f'error: metrics file {path!r} not found; write it '
                         'with python tools/test.py CONFIG CHECKPOINT --out '
                         f'{path}')
    with open(path) as f:
        try:
            raw = json.load(f)
        except json.JSONDecodeError as err:
            raise SystemExit(f'error: {path!r} is not JSON ({err}).')
    if not isinstance(raw, dict):
        raise SystemExit(f'error: {path!r} holds no metrics dict.')
    metrics = {k.rsplit('/', 1)[-1]: v for k, v in raw.items()}
    missing = [k for k in ('confusion_matrix', ) + PER_CLASS
               if k not in metrics]
    if missing:
        raise SystemExit(
            f'error: {path!r} has no {missing[0]!r} (missing: {missing}); '
            'it must come from tools/test.py --out with the ClsReportMetric '
            "evaluator (test_evaluator = dict(type='ClsReportMetric'), as in "
            'the MICS fine-tuning configs).')
    k = len(metrics['confusion_matrix'])
    for key in PER_CLASS + ('auc_per_class', ):
        values = metrics.get(key)
        if values is not None and len(values) != k:
            raise SystemExit(
                f'error: {path!r}: {key!r} has {len(values)} entries but '
                f'the confusion matrix has {k} classes.')
    classes = metrics.get('classes')
    if classes is None:
        classes = [f'class_{i}' for i in range(k)]
    elif len(classes) != k:
        raise SystemExit(f'error: {path!r}: {len(classes)} class names for '
                         f'{k} classes in the confusion matrix.')
    metrics['classes'] = list(classes)
    return metrics


def per_class_rows(metrics: dict) -> List[Dict[str, object]]:
    """One row per class: class, precision, recall, f1, auc (None where
    undefined), support."""
    auc = metrics.get('auc_per_class') or [None] * len(metrics['classes'])
    return [
        dict(
            name=name,
            precision=metrics['precision_per_class'][i],
            recall=metrics['recall_per_class'][i],
            f1=metrics['f1_per_class'][i],
            auc=auc[i],
            support=metrics['support_per_class'][i])
        for i, name in enumerate(metrics['classes'])
    ]


def _fmt(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.3f}'


def markdown(metrics: dict, source: str) -> str:
    """The report as Markdown."""
    rows = per_class_rows(metrics)
    overall = [('accuracy', 'accuracy'),
               ('precision (macro)', 'precision_macro'),
               ('recall (macro)', 'recall_macro'),
               ('F1 (macro)', 'f1_macro'), ('AUC (macro)', 'auc_macro')]
    lines = [f'# Classification report: `{source}`', '',
             '| metric | value |', '| --- | --- |']
    lines += [f'| {label} | {_fmt(metrics.get(key))} |'
              for label, key in overall if key in metrics]
    undefined = metrics.get('auc_undefined_classes') or []
    if undefined:
        names = ', '.join(metrics['classes'][i] for i in undefined)
        lines += ['', f'AUC undefined (no positive or no negative sample) '
                  f'for: {names}; the macro AUC averages the others.']
    lines += [
        '', f'{sum(r["support"] for r in rows)} test images, '
        f'{len(rows)} classes.', '',
        '| class | precision | recall | F1 | AUC | support |',
        '| --- | --- | --- | --- | --- | --- |'
    ]
    for r in rows:
        lines.append(f'| {r["name"]} | {_fmt(r["precision"])} | '
                     f'{_fmt(r["recall"])} | {_fmt(r["f1"])} | '
                     f'{_fmt(r["auc"])} | {r["support"]} |')
    lines.append(f'| **macro** | {_fmt(metrics.get("precision_macro"))} | '
                 f'{_fmt(metrics.get("recall_macro"))} | '
                 f'{_fmt(metrics.get("f1_macro"))} | '
                 f'{_fmt(metrics.get("auc_macro"))} | '
                 f'{sum(r["support"] for r in rows)} |')
    lines += ['', '![confusion matrix](confusion_matrix.png)', '']
    return '\n'.join(lines)


def write_csv(metrics: dict, path: str) -> None:
    """The per-class table as CSV (full precision; empty = undefined)."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(('class', ) + COLUMNS)
        for r in per_class_rows(metrics):
            writer.writerow([r['name']] + [
                '' if r[c] is None else r[c] for c in COLUMNS
            ])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('metrics', help='metrics JSON of tools/test.py --out')
    parser.add_argument('--out-dir', required=True, help='output folder')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Write the report; return the paths written."""
    args = parse_args(argv)
    metrics = load_metrics(args.metrics)
    os.makedirs(args.out_dir, exist_ok=True)
    out = dict(
        markdown=osp.join(args.out_dir, 'report.md'),
        csv=osp.join(args.out_dir, 'per_class.csv'),
        confusion_png=osp.join(args.out_dir, 'confusion_matrix.png'))
    with open(out['markdown'], 'w') as f:
        f.write(markdown(metrics, args.metrics))
    write_csv(metrics, out['csv'])
    save_confusion_matrix_png(
        metrics['confusion_matrix'], metrics['classes'],
        out['confusion_png'],
        title=f'{osp.basename(args.metrics)}: accuracy '
        f'{_fmt(metrics.get("accuracy"))}')
    for path in out.values():
        print(path)
    return out


if __name__ == '__main__':
    main()
