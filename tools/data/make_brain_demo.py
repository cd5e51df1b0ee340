"""Build the BrainMVP demo set from real brain images that ship with
packages: the MNI152 2009a T1 and tissue maps (nilearn) and, when Debian's
insighttoolkit5-examples is installed, the BrainWeb T1 / PD slice pair.

Example::

    python tools/data/make_brain_demo.py --out data/brain_demo

Derived subjects (random deformations of the one template) and SIMULATED
T2 / PD / FLAIR contrasts are labelled as such in the written README.txt
and provenance.json: see mics_mm/testing/brain_demo.py.
"""
import argparse
import json
import sys
import time

from mics_mm.testing.brain_demo import ITK_DATA_DIR, make_brain_demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/brain_demo')
    parser.add_argument('--subjects', type=int, default=10)
    parser.add_argument('--voxel-mm', type=int, default=2,
                        help='voxel size (block mean of the 1 mm template)')
    parser.add_argument('--labelled', type=int, default=2,
                        help='labelled training subjects')
    parser.add_argument('--held-out', type=int, default=2,
                        help='subjects in each of val and test')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--mni-dir', help='folder of the MNI152 files '
                        '(default: the installed nilearn package data)')
    parser.add_argument('--itk-dir', default=ITK_DATA_DIR,
                        help="ITK example data ('' to skip BrainWeb)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.time()
    try:
        record = make_brain_demo(
            args.out,
            subjects=args.subjects,
            factor=args.voxel_mm,
            seed=args.seed,
            labelled=args.labelled,
            held_out=args.held_out,
            mni_dir=args.mni_dir,
            itk_dir=args.itk_dir or None)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(json.dumps(record['splits']))
    if record['sources']['brainweb'] is None:
        print('BrainWeb T1/PD pair not found (apt-get install '
              'insighttoolkit5-examples to add it); skipped.')
    print(f'wrote {args.out} (canvas {record["canvas"]}) in '
          f'{time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
