"""Write BrainMVP's learned modality templates as NIfTI and a PNG montage.

Example::

    python tools/brainmvp/export_templates.py \
        work_dirs/pretrain_brats/epoch_1500.pth --out work_dirs/templates

writes ``<out>/template_<modality>.nii.gz`` (min-max normalised to [0, 1], as
the model uses them; identity affine on the canvas grid, i.e. 1 mm voxels on
the SRI24 canvas) and ``<out>/templates_montage.png`` (the middle slice of
each template along each axis; an 8-bit grey PNG).
"""
import argparse
import io
import os
import os.path as osp
import sys

import nibabel as nib
import numpy as np
import torch

from mics_mm.structures import MRI_MODALITIES


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='BrainMVP pre-training checkpoint')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--key',
        default='templates.templates',
        help='state-dict key of the templates')
    return parser.parse_args(argv)


def normalise(volume: np.ndarray) -> np.ndarray:
    """Min-max normalise to [0, 1] (what BrainMVPModalityTemplates feeds in)."""
    low, high = volume.min(), volume.max()
    return (volume - low) / max(float(high - low), 1e-6)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint {args.checkpoint!r} not found',
              file=sys.stderr)
        return 1
    # Trusted checkpoints only: mmengine checkpoints need full unpickling.
    ckpt = torch.load(args.checkpoint, map_location='cpu', weights_only=False)
    state = ckpt.get('state_dict', ckpt)
    if args.key not in state:
        print(f'error: {args.checkpoint!r} has no {args.key!r}; is it a '
              'BrainMVP checkpoint with templates?', file=sys.stderr)
        return 1
    templates = state[args.key].float().numpy()
    if templates.ndim != 4 or len(templates) > len(MRI_MODALITIES):
        print(f'error: {args.key!r} has shape {templates.shape}; expected '
              '(modalities, X, Y, Z)', file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    volumes = [normalise(t) for t in templates]
    for name, volume in zip(MRI_MODALITIES, volumes):
        path = osp.join(args.out, f'template_{name}.nii.gz')
        nib.save(nib.Nifti1Image(volume.astype(np.float32), np.eye(4)), path)
        print(path)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(
        3, len(volumes), figsize=(2 * len(volumes), 6), squeeze=False)
    for col, (name, volume) in enumerate(zip(MRI_MODALITIES, volumes)):
        for row in range(3):
            middle = np.take(volume, volume.shape[row] // 2, axis=row)
            axes[row][col].imshow(np.rot90(middle), cmap='gray', vmin=0,
                                  vmax=1)
            axes[row][col].axis('off')
        axes[0][col].set_title(name)
    fig.suptitle(f'BrainMVP templates: {osp.basename(args.checkpoint)}')
    montage = osp.join(args.out, 'templates_montage.png')
    # The montage is grey levels only: an 8-bit grey PNG is lossless and
    # half the RGBA size (noisy early templates compress badly).
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=80, bbox_inches='tight')
    plt.close(fig)
    buf.seek(0)
    from PIL import Image
    Image.open(buf).convert('L').save(montage, optimize=True)
    print(montage)
    return 0


if __name__ == '__main__':
    sys.exit(main())
