"""Test a checkpoint with an mmengine Runner.

Same command line as mmpretrain's ``tools/test.py`` (a subset); the config
handling, including the config-key check, is shared with
``tools/train.py`` (:func:`mics_mm.apis.load_config`).

Examples::

    python tools/test.py CONFIG CHECKPOINT [--out metrics.json]
    bash tools/dist_test.sh CONFIG CHECKPOINT 2 --out metrics.json
"""
import argparse
import copy
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.registry import RUNNERS

import mics_mm  # noqa: F401  (registers the modules)
from mics_mm.apis import add_common_args, load_config
from mics_mm.engine.runner import UsageError, finish_distributed


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line of ``test.py``."""
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        help='file to write to: the metrics as JSON (default), or the '
        'predictions as a pickle with --out-item pred')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        default='metrics',
        help='what --out holds')
    parser.add_argument(
        '--show-dir', help='directory to save visualised predictions to')
    parser.add_argument(
        '--tta', action='store_true', help='enable test-time augmentation')
    add_common_args(parser)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_test_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the test-only command-line options to ``cfg`` in place."""
    cfg.load_from = args.checkpoint
    if args.out is not None and args.out_item == 'pred':
        evaluators = cfg.test_evaluator
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpResults', out_file_path=args.out)
        ]
    if args.show_dir is not None:
        vis_hook = cfg.default_hooks.get('visualization') or dict(
            type='VisualizationHook')
        vis_hook.update(enable=True, out_dir=args.show_dir)
        cfg.default_hooks.visualization = vis_hook
    if args.tta:
        enable_tta(cfg)
    return cfg


def enable_tta(cfg: Config) -> None:
    """Wrap the model in a TTA model and use the TTA test pipeline.

    Uses ``cfg.tta_model`` (default ``AverageClsScoreTTA``) and
    ``cfg.tta_pipeline`` (default: the test pipeline with its packing step
    run on the image and on its horizontal flip).
    """
    if cfg.get('tta_model') is None:
        cfg.tta_model = dict(type='AverageClsScoreTTA')
    pipeline = cfg.test_dataloader.dataset.pipeline
    if cfg.get('tta_pipeline') is None:
        flips = [dict(type='RandomFlip', prob=p) for p in (0., 1.)]
        cfg.tta_pipeline = copy.deepcopy(pipeline[:-1]) + [
            dict(type='TestTimeAug', transforms=[flips, [pipeline[-1]]])
        ]
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    """Entry point; returns the metrics."""
    args = parse_args(argv)
    try:
        cfg = merge_test_args(load_config(args), args)
        runner = RUNNERS.build(cfg)
    except UsageError as err:  # a bad config key, named
        raise SystemExit(f'tools/test.py: error: {err}') from None
    metrics = runner.test()
    if args.out is not None and args.out_item == 'metrics' and \
            is_main_process():
        dump(metrics, args.out, file_format='json')
        matrix = metrics.get('confusion_matrix')
        if matrix is not None:
            # ClsReportMetric's confusion matrix, also as a picture.
            from mics_mm.evaluation import save_confusion_matrix_png
            png = osp.splitext(args.out)[0] + '_confusion.png'
            save_confusion_matrix_png(
                matrix, metrics.get('classes'), png,
                title=osp.basename(args.config))
            print(f'confusion matrix: {png}')
    finish_distributed()
    return metrics


if __name__ == '__main__':
    main()
