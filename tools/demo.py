"""End-to-end demo behind ``make demo`` (runs on 2 CPU cores in minutes).

1. makes (or finds) the SYNTHETIC Kvasir-layout stand-in under
   ``data/kvasir_demo_synthetic`` (``tools/data/make_demo_kvasir.py``);
2. writes its stratified splits (``tools/data/make_splits.py``);
3. pre-trains MICS on it with ``tools/train.py
   configs/mics/pretrain_kvasir_demo.py`` in a new run folder
   ``<work-dir>/run_<timestamp>/pretrain`` (earlier runs are never touched);
4. fine-tunes the multimodal classifier at 10 % labels
   (``configs/mics/finetune_kvasir_demo.py``) from that checkpoint and, on
   the same split and schedule, from scratch, then tests both with
   ``tools/test.py`` (metrics JSON + confusion-matrix PNG);
5. writes ``<work-dir>/summary.json`` and prints it.

Every step is a command a user can type; they are printed as they run.
The data are synthetic, so the figures show that the pipeline learns, not
how MICS does on real endoscopy.
"""
import argparse
import json
import os.path as osp
import sys
import time

from mics_mm.apis import (last_checkpoint, read_train_scalars, run_step,
                          summarise_losses)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

LOSS_TERMS = ('loss', 'loss_recon', 'loss_consistency', 'loss_aligned',
              'loss_disc')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data', default='data/kvasir_demo_synthetic')
    parser.add_argument('--per-class', type=int, default=40)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument(
        '--config', default='configs/mics/pretrain_kvasir_demo.py')
    parser.add_argument(
        '--finetune-config', default='configs/mics/finetune_kvasir_demo.py')
    parser.add_argument(
        '--label-fraction',
        type=int,
        default=10,
        help='labelled percentage of train for fine-tuning (a split file)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='extra overrides passed to the pre-training tools/train.py')
    return parser.parse_args()


def finetune_and_test(args, py: str, run_dir: str, name: str,
                      pretrained: str) -> dict:
    """Fine-tune (from ``pretrained`` or scratch), test, return metrics."""
    work = osp.join(run_dir, name)
    data = args.data
    opts = [
        f'{loader}.dataset.data_root={data}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    opts += [
        'train_dataloader.dataset.ann_file='
        f'splits/train_labeled_{args.label_fraction}pct.json',
        f'model.pretrained={pretrained}'
    ]
    start = time.time()
    run_step([
        py, 'tools/train.py', args.finetune_config, '--work-dir', work,
        '--cfg-options', *opts
    ], ROOT)
    checkpoint = last_checkpoint(work, ROOT)
    out = osp.join(work, 'test_metrics.json')
    run_step([
        py, 'tools/test.py', args.finetune_config, checkpoint, '--work-dir',
        work, '--out', out, '--cfg-options', *opts
    ], ROOT)
    with open(osp.join(ROOT, out)) as f:
        metrics = json.load(f)
    return dict(
        accuracy=metrics['accuracy'],
        f1_macro=metrics['f1_macro'],
        auc_macro=metrics['auc_macro'],
        label_fraction=args.label_fraction / 100,
        pretrained=pretrained,
        checkpoint=checkpoint,
        metrics=out,
        confusion_png=osp.splitext(out)[0] + '_confusion.png',
        seconds=round(time.time() - start, 1))


def main():
    args = parse_args()
    py = sys.executable
    data = args.data
    if not osp.isfile(osp.join(ROOT, data, 'README.txt')):
        run_step([
            py, 'tools/data/make_demo_kvasir.py', '--out', data,
            '--per-class',
            str(args.per_class), '--size',
            str(args.size)
        ], ROOT)
    else:
        print(f'demo: using the synthetic demo data in {data}')
    if not osp.isfile(osp.join(ROOT, data, 'splits', 'train.json')):
        run_step([py, 'tools/data/make_splits.py', '--data-root', data], ROOT)

    stamp = time.strftime('%Y%m%d_%H%M%S')
    run_dir = osp.join(args.work_dir, f'run_{stamp}')
    pre_dir = osp.join(run_dir, 'pretrain')
    start = time.time()
    run_step([
        py, 'tools/train.py', args.config, '--work-dir', pre_dir,
        '--cfg-options', f'train_dataloader.dataset.data_root={data}',
        *args.cfg_options
    ], ROOT)
    seconds = time.time() - start
    checkpoint = last_checkpoint(pre_dir, ROOT)
    losses = summarise_losses(
        read_train_scalars(osp.join(ROOT, pre_dir)), LOSS_TERMS)
    pretrain = dict(
        config=args.config,
        data=data,
        data_note='SYNTHETIC stand-in, not real endoscopy',
        work_dir=pre_dir,
        checkpoint=checkpoint,
        seconds=round(seconds, 1))
    pretrain.update(losses)
    summary_path = osp.join(ROOT, args.work_dir, 'summary.json')
    summary = {}
    if osp.isfile(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
    summary['pretrain'] = pretrain
    summary['finetune'] = finetune_and_test(args, py, run_dir, 'finetune',
                                            checkpoint)
    summary['finetune_scratch'] = finetune_and_test(args, py, run_dir,
                                                    'finetune_scratch',
                                                    'None')
    with open(summary_path, 'w') as f:
        json.dump(summary, f, indent=2)
    print('\nMICS demo pre-training (synthetic data) done in '
          f'{seconds:.0f} s; checkpoint {checkpoint}')
    for term in LOSS_TERMS:
        if f'{term}_first' in pretrain:
            print(f'  {term:18s} first {pretrain[term + "_first"]:.4f}  '
                  f'last {pretrain[term + "_last"]:.4f}  (last-epoch mean '
                  f'{pretrain[term + "_last_epoch_mean"]:.4f})')
    print(f'\nFine-tuning at {args.label_fraction} % labels, tested on the '
          'held-out test split (synthetic data):')
    for name, label in (('finetune', 'from MICS pre-training'),
                        ('finetune_scratch', 'from scratch')):
        r = summary[name]
        print(f'  {label:24s} accuracy {r["accuracy"]:.3f}  macro-F1 '
              f'{r["f1_macro"]:.3f}  macro-AUC {r["auc_macro"]:.3f}')
    print(f'summary: {osp.join(args.work_dir, "summary.json")}')


if __name__ == '__main__':
    main()
