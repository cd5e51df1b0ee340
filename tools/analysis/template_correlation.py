"""Do BrainMVP's learned templates look like the modality they stand for?

For each modality of the training data: the Pearson correlation, inside the
brain (the non-zero voxels of the mean image), between the template
(min-max normalised to [0, 1], as the model uses it) and the mean training
image of that modality, both on the template canvas. Every training study
is placed on the canvas by the config's own pipeline head (loading,
resampling, ``PlaceOnCanvas``, foreground crops, percentile normalisation:
the transforms before the first random one) at its ``canvas_offset``.

Example::

    python tools/analysis/template_correlation.py \\
        work_dirs/demo_brainmvp/pretrain/epoch_20.pth --data data/brain_demo \\
        --out templates_r.json --montage templates_vs_mean.png

``--config`` defaults to the config stored in the checkpoint. Prints a
table; ``--out`` writes it as JSON (r is null for a constant, never
trained template); ``--montage`` draws, per modality, the template next to
the mean image (axial, coronal, sagittal through the brain's centre).
Exit status 1 with a message naming the file and the key when the
checkpoint has no templates.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mics_mm.apis.template_report import (TEMPLATES_KEY, format_report,
                                          report_to_json,
                                          save_template_montage,
                                          template_report)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='BrainMVP pre-training checkpoint')
    parser.add_argument('--data', default=None,
                        help='data folder (replaces the config\'s data_root)')
    parser.add_argument('--config', default=None,
                        help='pre-training config (default: the one stored '
                        'in the checkpoint)')
    parser.add_argument('--key', default=TEMPLATES_KEY,
                        help='state-dict key of the templates')
    parser.add_argument('--out', default=None, help='JSON report')
    parser.add_argument('--montage', default=None, help='PNG montage')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        report, templates, means = template_report(
            args.checkpoint, data_root=args.data, config=args.config,
            key=args.key, return_arrays=True)
    except (FileNotFoundError, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args \
            else str(err)
        print(f'error: {message}', file=sys.stderr)
        return 1
    print(format_report(report))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(report_to_json(report), f, indent=1, allow_nan=False)
        print(args.out)
    if args.montage:
        print(save_template_montage(templates, means, args.montage, report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
