"""Rewrite a trusted checkpoint so that it loads with ``weights_only=True``.

Checkpoints written by mics_mm before its checkpoints became plain (or by
mmengine's own ``CheckpointHook``) pickle the message hub's ``HistoryBuffer``
objects and NumPy values, which torch >= 2.6 refuses to unpickle by default.
This tool unpickles such a file ONCE, fully (``weights_only=False``: only do
this for a file you trust, since unpickling can run code), and writes the
same content as tensors and plain containers, which every mics_mm loader
then reads safely. The source file is never modified; an existing output is
refused unless ``--force``.

Example::

    python tools/model_converters/plain_checkpoint.py old.pth old_plain.pth
"""
import argparse
import io
import os.path as osp
import sys
from typing import List, Optional

import torch

from mics_mm.utils.atomic import atomic_write
from mics_mm.utils.checkpoint_io import read_checkpoint
from mics_mm.utils.plain_state import to_plain


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='trusted checkpoint to convert')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--force', action='store_true', help='replace an existing output')
    return parser.parse_args(argv)


def upgrade_random_state(ckpt: dict) -> None:
    """``RandomStateHook``'s old tuples (pickled NumPy state) in its current
    plain form, in place."""
    state = ckpt.get('mics_random_state')
    if not isinstance(state, dict):
        return
    if isinstance(state.get('python'), tuple):
        version, mt_state, gauss = state['python']
        state['python'] = dict(
            version=version, state=list(mt_state), gauss=gauss)
    if isinstance(state.get('numpy'), tuple):
        name, keys, pos, has_gauss, cached = state['numpy']
        state['numpy'] = dict(
            name=name,
            keys=[int(k) for k in keys],
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached))


def main(argv: Optional[List[str]] = None) -> str:
    """Convert; returns the output path."""
    args = parse_args(argv)
    if not osp.isfile(args.src):
        raise SystemExit(f'error: {args.src!r} does not exist.')
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise SystemExit('error: write the plain copy to another file; the '
                         'source is never modified.')
    if osp.exists(args.dst) and not args.force:
        raise SystemExit(f'error: {args.dst!r} exists; add --force to '
                         'replace it.')
    ckpt = torch.load(args.src, map_location='cpu', weights_only=False)
    upgrade_random_state(ckpt)
    plain = to_plain(ckpt)
    with io.BytesIO() as buffer:
        torch.save(plain, buffer)
        atomic_write(args.dst, buffer.getvalue())
    read_checkpoint(args.dst)  # proves it loads with weights_only=True
    print(f'{args.dst}: loads with weights_only=True')
    return args.dst


if __name__ == '__main__':
    sys.exit(main() and 0)
