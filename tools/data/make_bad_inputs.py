"""Write the bad-input corpus used by the reliability tests.

Every case (broken or unusual images, unmatched WLI / NBI pairs, stray
files, broken NIfTI studies, empty manifests, unknown modalities, config
typos) is generated, not committed; ``DIR/cases.json`` lists what the
loaders do with each one, and ``docs/reliability.md`` has the table.

Examples::

    python tools/data/make_bad_inputs.py --out /tmp/bad_inputs
    python tools/data/make_bad_inputs.py --out /tmp/bad_inputs --table
"""
import argparse
import sys
import time

from mics_mm.testing.bad_inputs import case_table, make_bad_inputs


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Write a corpus of bad inputs (for tests, not training).')
    parser.add_argument(
        '--out', required=True,
        help='output folder: new, empty or a corpus written before')
    parser.add_argument(
        '--huge', type=int, default=6000,
        help='side of the huge test image in pixels')
    parser.add_argument(
        '--table', action='store_true',
        help='print the cases as a Markdown table')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Write the corpus and print a summary."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        cases = make_bad_inputs(args.out, huge=args.huge)
    except FileExistsError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'Wrote {len(cases)} bad-input cases to {args.out} in '
          f'{time.perf_counter() - start:.1f} s (see cases.json)')
    if args.table:
        print('| case | expect | behaviour | where |')
        print('| --- | --- | --- | --- |')
        print('\n'.join(case_table(cases)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
