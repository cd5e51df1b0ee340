"""Extract the pre-trained encoder of a checkpoint for downstream use.

Writes ``{'state_dict': <encoder weights, keys as the backbone spells
them>, 'meta': {source, part, ...}}`` so that the encoder loads strictly
into the downstream backbone (mmpretrain ``ResNet`` / ``VisionTransformer``,
an mmseg config's backbone, ``UniFormer3D``), e.g. with
``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` (no prefix), or
``InflatedPretrained`` when the downstream input has more channels.

Parts: ``backbone`` (default: the trained encoder of MICS, BrainMVP,
SimCLR, BYOL, MoCo v3, MAE), ``momentum`` (the EMA encoder of MICS / MoCo v3
/ BYOL), and one per modality of a fine-tuned MICS multimodal classifier
(``--part wli`` / ``--part nbi``). ``--list`` shows what a checkpoint has.
The checkpoint is read with ``weights_only=True``; an existing OUT is
refused unless ``--force``; OUT is written atomically.

Examples::

    python tools/model_converters/extract_backbone.py \\
        work_dirs/pretrain_kvasir_demo/epoch_10.pth mics_r18_backbone.pth
    python tools/model_converters/extract_backbone.py finetuned.pth \\
        wli_encoder.pth --part wli
    python tools/model_converters/extract_backbone.py CKPT OUT \\
        --timm resnet18        # timm's key layout (needs timm)
"""
import argparse
import sys
from typing import List, Optional

from mics_mm.apis.export import (BackboneExportError, backbone_parts,
                                 export_backbone)
from mics_mm.utils.checkpoint_io import CheckpointReadError, read_checkpoint


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog='Parts: backbone (default), momentum, or a modality name of '
        'a fine-tuned multimodal classifier (wli, nbi, ...).')
    parser.add_argument('checkpoint', help='training checkpoint (.pth)')
    parser.add_argument('out', nargs='?', help='output file')
    parser.add_argument(
        '--part',
        default=None,
        help='encoder to extract (default: backbone, or the only one)')
    parser.add_argument(
        '--force', action='store_true', help='replace an existing OUT')
    parser.add_argument(
        '--timm',
        metavar='MODEL_NAME',
        default=None,
        help='write timm key names and check they load strictly into '
        'timm.create_model(MODEL_NAME) (needs timm)')
    parser.add_argument(
        '--list',
        action='store_true',
        help='print the parts of the checkpoint and exit')
    args = parser.parse_args(argv)
    if not args.list and args.out is None:
        parser.error('OUT is required (or give --list)')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.list:
            ckpt = read_checkpoint(args.checkpoint)
            state = ckpt.get('state_dict', ckpt) if isinstance(
                ckpt, dict) else None
            parts = backbone_parts(state) if isinstance(state, dict) else {}
            for name, prefix in parts.items():
                count = sum(k.startswith(prefix) for k in state)
                print(f'{name}\t{prefix}*\t{count} tensors')
            if not parts:
                print(f'{args.checkpoint}: no encoder found')
            return 0
        meta = export_backbone(
            args.checkpoint,
            args.out,
            part=args.part,
            force=args.force,
            timm_model=args.timm)
    except (FileNotFoundError, FileExistsError, CheckpointReadError,
            BackboneExportError, ImportError) as err:
        raise SystemExit(f'error: {err}')
    dropped = f', left out {meta["dropped"]}' if meta['dropped'] else ''
    print(f'{args.out}: part {meta["part"]!r} ({meta["prefix"]}*) of '
          f'{args.checkpoint}, {meta["num_tensors"]} tensors, '
          f'{meta["layout"]} key names{dropped}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
