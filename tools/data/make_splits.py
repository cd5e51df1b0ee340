"""Write stratified, seeded split files for a Kvasir or MICS paired dataset.

Example::

    python tools/data/make_splits.py --data-root data/kvasir-dataset-v2

writes ``train.json``, ``val.json``, ``test.json``, nested labelled subsets
``train_labeled_{p}pct.json`` / ``train_unlabeled_{p}pct.json`` (p = 1, 5, 10,
20, 50, 100; no unlabelled file for 100) and ``splits_meta.json`` into
``<data-root>/splits/``. Use them with
``KvasirDataset(data_root=..., ann_file='splits/train.json')``.
See :func:`mics_mm.datasets.splits.make_splits` for the rules.
"""
import argparse
import shlex
import sys
from typing import List, Optional, Sequence

from mics_mm.datasets.layouts import DEFAULT_MODALITIES, LAYOUTS, PAIRINGS
from mics_mm.datasets.splits import (DEFAULT_FRACTIONS, fraction_tag,
                                     make_splits)

__all__ = ['parse_args', 'format_table', 'main']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write stratified train/val/test and labelled-subset '
        'split files (mmengine JSON) for KvasirDataset.')
    parser.add_argument(
        '--data-root', required=True, help='dataset folder')
    parser.add_argument(
        '--out', default=None, help='output folder (default DATA_ROOT/splits)')
    parser.add_argument('--layout', default='auto', choices=LAYOUTS)
    parser.add_argument(
        '--modalities', nargs='+', default=list(DEFAULT_MODALITIES))
    parser.add_argument(
        '--classes',
        nargs='+',
        default=None,
        help='expected classes, label = position (default: sorted folders)')
    parser.add_argument(
        '--pairing',
        default='name',
        choices=PAIRINGS,
        help='how modality files are matched in the paired layout')
    parser.add_argument(
        '--val', type=float, default=0.1, help='validation fraction')
    parser.add_argument(
        '--test', type=float, default=0.2, help='test fraction')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--fractions',
        type=float,
        nargs='+',
        default=list(DEFAULT_FRACTIONS),
        help='labelled percentages of train')
    parser.add_argument(
        '--verify', action='store_true', help='decode every image first')
    parser.add_argument(
        '--force', action='store_true', help='overwrite existing split files')
    return parser.parse_args(argv)


def format_table(meta: dict) -> str:
    """Counts per class for train/val/test and totals of the labelled
    subsets.

    Args:
        meta (dict): What :func:`make_splits` returned.

    Returns:
        str: The table.
    """
    counts = meta['counts']
    columns = [s for s in ('train', 'val', 'test') if s in counts]
    rows = meta['classes'] + ['total']
    width = max(len(r) for r in rows)
    lines = [f'{"class":<{width}}' + ''.join(f'{c:>8}' for c in columns)]
    for row in rows:
        lines.append(f'{row:<{width}}' +
                     ''.join(f'{counts[c][row]:>8}' for c in columns))
    labelled = []
    for p in meta['fractions']:
        key = f'train_labeled_{fraction_tag(p)}pct'
        labelled.append(f'{fraction_tag(p)}%: {counts[key]["total"]}')
    lines.append('labelled subsets of train: ' + ', '.join(labelled))
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the tool.

    Args:
        argv (Sequence[str], optional): Arguments. Defaults to None
            (``sys.argv[1:]``).

    Returns:
        int: 0 on success, 1 on a data or split error (printed to stderr).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    command: List[str] = ['python', 'tools/data/make_splits.py'] + argv
    try:
        meta = make_splits(
            args.data_root,
            out_dir=args.out,
            layout=args.layout,
            modalities=args.modalities,
            val=args.val,
            test=args.test,
            seed=args.seed,
            fractions=args.fractions,
            classes=args.classes,
            pairing=args.pairing,
            verify=args.verify,
            force=args.force,
            command=' '.join(shlex.quote(a) for a in command))
    except (ValueError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    out = args.out or f'{args.data_root.rstrip("/")}/splits'
    print(f'{meta["layout"]} layout, seed {meta["seed"]}, '
          f'{len(meta["files"])} files written to {out}')
    print(format_table(meta))
    return 0


if __name__ == '__main__':
    sys.exit(main())
