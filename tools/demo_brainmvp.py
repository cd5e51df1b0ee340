"""End-to-end BrainMVP demo (2D and 3D) behind ``make demo-brainmvp``.

Meant to take about 15 minutes on 2 free CPU cores, it

1. makes (or finds) the demo brain set ``data/brain_demo``
   (``tools/data/make_brain_demo.py``: the real MNI152 template, subjects
   derived from it by random deformations, SIMULATED T2 / PD / FLAIR);
2. pre-trains BrainMVP on 2D slices (``configs/brainmvp/pretrain_brain_demo.py``)
   in a new run folder ``<work-dir>/run_<timestamp>/`` (earlier runs are
   never touched) and exports its templates (NIfTI + PNG montage);
3. fine-tunes tissue segmentation through mmsegmentation (ResNet-18 +
   UPerNet, T1 only: the other channels are filled from the templates)
   from that checkpoint, and the same from scratch (zero channels), then
   tests both on the held-out test subjects with ``tools/test.py`` (the
   fine-tunings skip their validation pass: only the test is reported);
4. pre-trains BrainMVP in 3D (tiny UniFormer3D on 32^3 patches, one
   modality per view, the three phases scaled to 8 epochs of 12 steps:
   ``configs/brainmvp/brainmvp_uniformer-tiny_1xb2-coslr-8e_brain-demo-3d-32px.py``);
5. fine-tunes the 3D tissue segmentation (tiny UniFormer + UNETR decoder,
   ``configs/brainmvp/benchmarks/uniformer-tiny_unetr_1xb2-adam-40it_brain-demo-3d-32px.py``)
   from that checkpoint (encoder, templates filling the missing
   modalities, template mixing and the two-view MSE) and from scratch,
   and tests both with ``tools/test.py``;
6. writes ``<work-dir>/summary.json`` (pre-training losses; per-case Dice
   and HD95 of CSF, grey and white matter, mean and per class, with and
   without pre-training, 2D and 3D) and prints it.

Both segmentation paths score by the BraTS rules
(``mics_mm.evaluation.brats_scoring``: a class empty in truth and
prediction has Dice 1 and HD95 0; empty in exactly one, Dice 0 and HD95
373.13 mm). ``--skip-3d`` runs the 2D path only (steps 1-3),
``--skip-2d`` the 3D path only (steps 1, 4, 5).

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
PRETRAIN_3D = ('configs/brainmvp/'
               'brainmvp_uniformer-tiny_1xb2-coslr-8e_brain-demo-3d-32px.py')
SEG_3D = ('configs/brainmvp/benchmarks/'
          'uniformer-tiny_unetr_1xb2-adam-40it_brain-demo-3d-32px.py')
#: --cfg-options of the 3D fine-tuning from a BrainMVP checkpoint (as the
#: brainmvp-pre BraTS config): encoder, templates, template mixing, MSE.
SEG_3D_PRE = ('model.pretrained={ckpt}', 'model.templates={ckpt}',
              'model.template_mix=True', 'model.feature_mse_weight=0.1')
#: The demo reports the test subjects only: no validation at the end of
#: the fine-tunings (saves a pass over the validation subjects each).
NO_VAL = ('val_cfg=None', 'val_dataloader=None', 'val_evaluator=None')


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
    parser.add_argument('--config-3d', default=PRETRAIN_3D)
    parser.add_argument('--seg-3d-config', default=SEG_3D)
    parser.add_argument(
        '--pretrain-3d-options',
        nargs='+',
        default=[],
        help='extra --cfg-options of the 3D pre-training')
    parser.add_argument(
        '--seg-3d-options',
        nargs='+',
        default=[],
        help='extra --cfg-options of both 3D fine-tunings and tests')
    parser.add_argument(
        '--skip-2d', action='store_true', help='run the 3D path only')
    parser.add_argument(
        '--skip-3d', action='store_true', help='run the 2D path only')
    return parser.parse_args(argv)


def data_options(data: str) -> list:
    """Point the segmentation loaders at ``data``."""
    return [
        f'{loader}.dataset.data_root={data}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def is_score(key: str) -> bool:
    """A Dice / HD95 figure of a test (means, per class, medians)."""
    return 'Dice' in key or 'HD95' in key or key == 'num_cases'


def segment(args, py: str, run_dir: str, name: str, config: str,
            pretrained: str = '', three_d: bool = False) -> dict:
    """Fine-tune a segmentation config, test it, return its metrics."""
    work = osp.join(run_dir, name)
    if three_d:
        opts = data_options(args.data) + list(args.seg_3d_options)
        if pretrained:
            opts += [o.format(ckpt=pretrained) for o in SEG_3D_PRE]
    else:
        opts = data_options(args.data) + list(args.seg_options)
        if pretrained:
            opts += [
                f'model.backbone.init_cfg.checkpoint={pretrained}',
                f'model.data_preprocessor.templates={pretrained}'
            ]
    start = time.time()
    run_step([
        py, 'tools/train.py', config, '--work-dir', work, '--cfg-options',
        *opts, *NO_VAL
    ], ROOT)
    checkpoint = last_checkpoint(work, ROOT)
    out = osp.join(work, 'test_metrics.json')
    run_step([
        py, 'tools/test.py', config, checkpoint, '--work-dir', work, '--out',
        out, '--cfg-options', *opts
    ], ROOT)
    with open(osp.join(ROOT, out)) as f:
        metrics = json.load(f)
    result = {k: v for k, v in metrics.items() if is_score(k)}
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
    summary = dict(splits=provenance['splits'])
    if not args.skip_2d:
        summary.update(run_2d(args, py, run_dir))
    if not args.skip_3d:
        summary.update(run_3d(args, py, run_dir))
    summary_path = osp.join(ROOT, args.work_dir, 'summary.json')
    with open(summary_path, 'w') as f:
        json.dump(summary, f, indent=2)

    for dim, key, title in (
            ('2D', 'segmentation', '2D (mmseg, slices put back into volumes)'),
            ('3D', 'segmentation_3d', '3D (whole volumes, 32^3 sliding '
             'window)')):
        pre = summary.get('pretrain' if dim == '2D' else 'pretrain_3d')
        if pre is None:
            continue
        print(f'\nBrainMVP {dim} pre-training done in {pre["seconds"]:.0f} '
              f's; checkpoint {pre["checkpoint"]}')
        for k, value in pre.items():
            if k.endswith('_first'):
                term = k[:-len('_first')]
                mean = pre.get(term + '_last_epoch_mean')
                print(f'  {term:10s} first {value:.4f}  last '
                      f'{pre[term + "_last"]:.4f}' +
                      ('' if mean is None else
                       f'  (last-epoch mean {mean:.4f})'))
        print_scores(summary, title, key, provenance)
    print(f'summary: {osp.join(args.work_dir, "summary.json")}')


def run_2d(args, py: str, run_dir: str) -> dict:
    """2D pre-training, template export, mmseg with and without it."""
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
    return dict(
        pretrain=pretrain,
        segmentation=segment(args, py, run_dir, 'seg_pretrained',
                             args.seg_config, checkpoint),
        segmentation_scratch=segment(args, py, run_dir, 'seg_scratch',
                                     args.seg_scratch_config))


def print_scores(summary: dict, title: str, key: str,
                 provenance: dict) -> None:
    """Print the per-case Dice / HD95 with and without pre-training."""
    print(f'\nTissue segmentation {title}, T1 only (flair / t2 / pd from '
          'the templates, or zeros from scratch), per-case Dice and HD95 '
          f'(mm) on the test subjects {provenance["splits"]["seg_test"]}:')
    for name, label in ((key, 'from BrainMVP pre-training'),
                        (key + '_scratch', 'from scratch')):
        r = summary[name]
        classes = '  '.join(
            f'{k[5:]} {v:.3f}/{r["HD95." + k[5:]]:.1f}'
            for k, v in r.items()
            if k.startswith('Dice.') and not k.endswith('.median')
            and k != 'Dice.background' and 'HD95.' + k[5:] in r)
        hd95 = r.get('mHD95', float('nan'))
        print(f'  {label:28s} mDice {r["mDice"]:.3f}  mHD95 {hd95:.1f}  '
              f'(Dice/HD95: {classes})')


def run_3d(args, py: str, run_dir: str) -> dict:
    """3D pre-training, then the 3D segmentation with and without it."""
    pre_dir = osp.join(run_dir, 'pretrain_3d')
    start = time.time()
    run_step([
        py, 'tools/train.py', args.config_3d, '--work-dir', pre_dir,
        '--cfg-options',
        f'train_dataloader.dataset.dataset.data_root={args.data}',
        *args.pretrain_3d_options
    ], ROOT)
    seconds = time.time() - start
    checkpoint = last_checkpoint(pre_dir, ROOT)
    pretrain = dict(
        config=args.config_3d,
        data=args.data,
        work_dir=pre_dir,
        checkpoint=checkpoint,
        seconds=round(seconds, 1))
    pretrain.update(
        summarise_losses(read_train_scalars(osp.join(ROOT, pre_dir))))
    return dict(
        pretrain_3d=pretrain,
        segmentation_3d=segment(args, py, run_dir, 'seg3d_pretrained',
                                args.seg_3d_config, checkpoint, True),
        segmentation_3d_scratch=segment(args, py, run_dir, 'seg3d_scratch',
                                        args.seg_3d_config, three_d=True))


if __name__ == '__main__':
    main()
