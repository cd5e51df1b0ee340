"""End-to-end BrainMVP demo behind ``make demo-brainmvp`` (2 CPU cores).

1. makes (or finds) the demo brain set ``data/brain_demo``
   (``tools/data/make_brain_demo.py``: the real MNI152 template, subjects
   derived from it by random deformations, SIMULATED T2 / PD / FLAIR);
2. pre-trains BrainMVP on 2D slices (``configs/brainmvp/pretrain_brain_demo.py``)
   in a new run folder ``<work-dir>/run_<timestamp>/`` (earlier runs are
   never touched) and exports its templates (NIfTI + PNG montage);
3. fine-tunes tissue segmentation through mmsegmentation (ResNet-18 +
   UPerNet, T1 only: the other channels are filled from the templates)
   from that checkpoint, and the same from scratch (zero channels), then
   tests both on the held-out subjects with ``tools/test.py``;
4. writes ``<work-dir>/summary.json`` (pre-training losses, Dice with and
   without pre-training) and prints it.

Every step is a command a user can type; they are printed as they run.
The subjects are derived from one template and three contrasts are
simulated, so the figures show the pipeline working, not BrainMVP on real
multi-parametric MRI.
"""
import argparse
import json
import os.path as osp
import sys
import time

from mics_mm.apis import (last_checkpoint, read_train_scalars, run_step,
                          summarise_losses)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

PRETRAIN = 'configs/brainmvp/pretrain_brain_demo.py'
SEG = 'configs/brainmvp/benchmarks/upernet_resnet18_{}1xb8-{}_brain-demo-96px.py'
SEG_SCRATCH = SEG.format('', '300it')
SEG_PRE = SEG.format('brainmvp-pre_', '300it')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo_brainmvp')
    parser.add_argument('--data', default='data/brain_demo')
    parser.add_argument('--config', default=PRETRAIN)
    parser.add_argument('--seg-config', default=SEG_PRE)
    parser.add_argument('--seg-scratch-config', default=SEG_SCRATCH)
    parser.add_argument(
        '--pretrain-options',
        nargs='+',
        default=[],
        help='extra --cfg-options of the pre-training')
    parser.add_argument(
        '--seg-options',
        nargs='+',
        default=[],
        help='extra --cfg-options of both fine-tunings and tests')
    return parser.parse_args(argv)


def data_options(data: str) -> list:
    """Point the segmentation loaders at ``data``."""
    return [
        f'{loader}.dataset.data_root={data}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def segment(args, py: str, run_dir: str, name: str, config: str,
            pretrained: str = '') -> dict:
    """Fine-tune a segmentation config, test it, return its metrics."""
    work = osp.join(run_dir, name)
    opts = data_options(args.data) + list(args.seg_options)
    if pretrained:
        opts += [
            f'model.backbone.init_cfg.checkpoint={pretrained}',
            f'model.data_preprocessor.templates={pretrained}'
        ]
    start = time.time()
    run_step([
        py, 'tools/train.py', config, '--work-dir', work, '--cfg-options',
        *opts
    ], ROOT)
    checkpoint = last_checkpoint(work, ROOT)
    out = osp.join(work, 'test_metrics.json')
    run_step([
        py, 'tools/test.py', config, checkpoint, '--work-dir', work, '--out',
        out, '--cfg-options', *opts
    ], ROOT)
    with open(osp.join(ROOT, out)) as f:
        metrics = json.load(f)
    result = {k: v for k, v in metrics.items() if 'Dice' in k}
    result.update(
        config=config,
        pretrained=pretrained or None,
        checkpoint=checkpoint,
        metrics=out,
        seconds=round(time.time() - start, 1))
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    py = sys.executable
    if not osp.isfile(osp.join(ROOT, args.data, 'provenance.json')):
        run_step([py, 'tools/data/make_brain_demo.py', '--out', args.data],
                 ROOT)
    else:
        print(f'demo: using the demo brain set in {args.data}')
    with open(osp.join(ROOT, args.data, 'provenance.json')) as f:
        provenance = json.load(f)

    run_dir = osp.join(args.work_dir,
                       'run_' + time.strftime('%Y%m%d_%H%M%S'))
    pre_dir = osp.join(run_dir, 'pretrain')
    start = time.time()
    run_step([
        py, 'tools/train.py', args.config, '--work-dir', pre_dir,
        '--cfg-options', f'train_dataloader.dataset.dataset.data_root='
        f'{args.data}', *args.pretrain_options
    ], ROOT)
    seconds = time.time() - start
    checkpoint = last_checkpoint(pre_dir, ROOT)
    templates = osp.join(run_dir, 'templates')
    run_step([
        py, 'tools/brainmvp/export_templates.py', checkpoint, '--out',
        templates
    ], ROOT)
    pretrain = dict(
        config=args.config,
        data=args.data,
        data_note='one real template (MNI152), derived subjects, SIMULATED '
        't2/pd/flair: see ' + osp.join(args.data, 'README.txt'),
        work_dir=pre_dir,
        checkpoint=checkpoint,
        templates_montage=osp.join(templates, 'templates_montage.png'),
        seconds=round(seconds, 1))
    pretrain.update(
        summarise_losses(read_train_scalars(osp.join(ROOT, pre_dir))))
    summary = dict(
        pretrain=pretrain,
        segmentation=segment(args, py, run_dir, 'seg_pretrained',
                             args.seg_config, checkpoint),
        segmentation_scratch=segment(args, py, run_dir, 'seg_scratch',
                                     args.seg_scratch_config),
        splits=provenance['splits'])
    summary_path = osp.join(ROOT, args.work_dir, 'summary.json')
    with open(summary_path, 'w') as f:
        json.dump(summary, f, indent=2)

    print(f'\nBrainMVP 2D pre-training done in {seconds:.0f} s; checkpoint '
          f'{checkpoint}')
    for key, value in pretrain.items():
        if key.endswith('_first'):
            term = key[:-len('_first')]
            print(f'  {term:10s} first {value:.4f}  last '
                  f'{pretrain[term + "_last"]:.4f}  (last-epoch mean '
                  f'{pretrain[term + "_last_epoch_mean"]:.4f})')
    print('\nTissue segmentation, T1 only (flair / t2 / pd filled from the '
          'templates, or zeros from scratch), per-case Dice on the test '
          f'subjects {provenance["splits"]["seg_test"]}:')
    for name, label in (('segmentation', 'from BrainMVP pre-training'),
                        ('segmentation_scratch', 'from scratch')):
        r = summary[name]
        classes = '  '.join(f'{k[5:]} {v:.3f}' for k, v in r.items()
                            if k.startswith('Dice.'))
        print(f'  {label:28s} mDice {r["mDice"]:.3f}  ({classes})')
    print(f'summary: {osp.join(args.work_dir, "summary.json")}')


if __name__ == '__main__':
    main()
