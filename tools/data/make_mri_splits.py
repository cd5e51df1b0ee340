"""Write seeded per-case splits of a BraTS-style MRI folder as the JSON
manifests the BrainMVP configs read.

Example::

    python tools/data/make_mri_splits.py --data-root data/brats

writes into ``<data-root>``: ``pretrain.json`` (the training cases, every
modality, no labels), ``seg_train.json`` (the first ``--labelled``
fraction of the training cases, with labels), ``seg_val.json`` and
``seg_test.json``. Cases are shuffled with ``--seed``; existing files are
kept unless ``--force``.

The BrainMVP pre-training configs (``configs/_base_/datasets/
brats_brainmvp.py`` and its 2D variant) read ``<data-root>/pretrain.json``
when it exists and leave out every case of ``seg_val.json`` /
``seg_test.json`` (``BrainMRIDataset(exclude_files=...)``), so
pre-training never sees a validation or test case; without the files they
scan every case folder and warn (docs/data.md, "Writing the MRI splits").
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np

from mics_mm.datasets import BrainMRIDataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--val', type=float, default=0.1)
    parser.add_argument('--test', type=float, default=0.2)
    parser.add_argument('--labelled', type=float, default=1.0,
                        help='fraction of the training cases with labels')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='overwrite existing manifests')
    return parser.parse_args(argv)


def entry(info: dict, root: str, label: bool) -> dict:
    item = dict(
        case=info['case'],
        images={m: osp.relpath(p, root)
                for m, p in info['img_path'].items()})
    if label:
        if not info.get('seg_path'):
            raise ValueError(f'make_mri_splits: case {info["case"]!r} has no '
                             'label file (<case>_seg.nii.gz); it cannot be '
                             'in a segmentation split.')
        item['label'] = osp.relpath(info['seg_path'], root)
    return item


def main(argv=None) -> int:
    args = parse_args(argv)
    root = osp.abspath(args.data_root)
    if not 0 <= args.val < 1 or not 0 < args.test < 1 or \
            args.val + args.test >= 1 or not 0 < args.labelled <= 1:
        print('error: need 0 <= val, 0 < test, val + test < 1 and '
              '0 < labelled <= 1', file=sys.stderr)
        return 1
    # serialize_data=False keeps data_list (serialising empties it).
    infos = BrainMRIDataset(data_root=root, serialize_data=False).data_list
    order = np.random.default_rng(args.seed).permutation(len(infos))
    infos = [infos[i] for i in order]
    n_test = max(1, int(round(args.test * len(infos))))
    n_val = int(round(args.val * len(infos)))
    test, val = infos[:n_test], infos[n_test:n_test + n_val]
    train = infos[n_test + n_val:]
    if not train:
        print(f'error: {len(infos)} cases leave none for training',
              file=sys.stderr)
        return 1
    labelled = train[:max(1, int(round(args.labelled * len(train))))]
    splits = dict(
        pretrain=[entry(i, root, False) for i in train],
        seg_train=[entry(i, root, True) for i in labelled],
        seg_val=[entry(i, root, True) for i in val],
        seg_test=[entry(i, root, True) for i in test])
    existing = [n for n in splits if osp.isfile(osp.join(root, n + '.json'))]
    if existing and not args.force:
        print(f'error: {existing} exist in {root}; pass --force to replace '
              'them', file=sys.stderr)
        return 1
    for name, items in splits.items():
        if not items:
            continue
        with open(osp.join(root, name + '.json'), 'w') as f:
            json.dump(items, f, indent=1)
        print(f'{name}.json: {len(items)} cases')
    print('BrainMVP pre-training (configs/_base_/datasets/brats_brainmvp*.py) '
          'reads pretrain.json and leaves out the seg_val / seg_test cases.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
