"""Write a small SYNTHETIC stand-in for Kvasir v2 (not real endoscopy).

Real Kvasir / MICS data cannot be downloaded here, so this script draws
endoscopy-like images (pink mucosa, one pattern per class) in the real
layouts, for tests and demos. Every output folder gets a README.txt saying
the data are synthetic; the script refuses to write into a non-empty folder
that lacks it.

Examples::

    # Kvasir v2 layout: <out>/<class>/<class>_<i:04d>.jpg
    python tools/data/make_demo_kvasir.py --out data/demo_kvasir
    # MICS paired layout: <out>/{train,test}/<class>_{WLI,NBI}/<i:04d>.png
    python tools/data/make_demo_kvasir.py --out data/demo_mics --paired
"""
import argparse
import sys
import time

from mics_mm.testing.kvasir_demo import DemoDataExistsError, make_demo_kvasir


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Write SYNTHETIC Kvasir-like images (not real '
        'endoscopy) for tests and demos.')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--per-class', type=int, default=40, help='images per class')
    parser.add_argument(
        '--size', type=int, default=64, help='image height and width')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--paired',
        action='store_true',
        help='write the MICS paired WLI/NBI layout instead of Kvasir v2')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the generator and print what was written."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        info = make_demo_kvasir(
            args.out,
            per_class=args.per_class,
            size=args.size,
            seed=args.seed,
            paired=args.paired)
    except DemoDataExistsError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'Wrote {info["total"]} SYNTHETIC image files ({info["layout"]} '
          f'layout) to {info["out"]} in {time.perf_counter() - start:.1f} s')
    counts = info['counts']
    if info['layout'] == 'paired':
        for split, per_class in counts.items():
            print(f'  {split}: ' + ', '.join(
                f'{name} {n} pairs' for name, n in per_class.items()))
    else:
        for name, n in counts.items():
            print(f'  {name}: {n}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
