"""Weighted kNN accuracy of a pre-trained encoder (InstDisc / DINO protocol).

::

    python tools/analysis/knn_eval.py \\
        configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py \\
        work_dirs/<run>/epoch_10.pth --data-root data/kvasir_demo_synthetic \\
        [--k 20] [--temperature 0.07] [--modality wli] [--out knn.json]
    python tools/analysis/knn_eval.py \\
        configs/mics/benchmarks/resnet50_mics-pre_knn-k20_kvasir-224px.py \\
        work_dirs/mics_resnet50_8xb32-coslr-100e_kvasir-224px/epoch_100.pth

The model of CONFIG is built (with the config's top-level
``data_preprocessor``, as the Runner does) and the ``backbone.*`` weights of
the checkpoint's ``state_dict`` loaded (read with ``weights_only=True`` by
``mics_mm.utils.checkpoint_io.read_checkpoint``; every backbone weight
must be there). The labelled train split (``--train-split``, default
``splits/train.json``) is the memory bank,
the test split (``--test-split``, default ``splits/test.json``) is
classified; both are read as ``KvasirDataset`` (the type of every Kvasir
config) with the resize-only pipeline at the config's ``img_size``. Features:
``model.extract_feat``, last stage average-pooled (class token of a ViT), of
``--modality`` (a modality or ``concat``; default the model's first). MICS
configs and mmpretrain's one-input baselines (SimCLR, MoCo v3, BYOL, MAE of
``configs/baselines/``) both work: a baseline encoder sees the images of
the chosen modality alone.
Prints and optionally writes (``--out``) a JSON with ``top1``.

**Settings from the config.** A config may hold a ``knn_eval`` dict (the
kNN configs ``configs/*/benchmarks/*_knn-k20_*.py`` do), e.g.::

    knn_eval = dict(k=20, temperature=0.07, train_split='splits/train.json',
                    test_split='splits/test.json', batch_size=64,
                    modality='wli')

Each of its keys (``k``, ``temperature``, ``train_split``, ``test_split``,
``batch_size``, ``modality``, ``img_size``, ``data_root``) is then the
default of the flag of the same name; a flag given on the command line
still overrides it, and a key left out keeps the built-in default
(``--k 20``, ``--temperature 0.07``, ...). An unknown key is an error.
Without ``--data-root`` (and no ``knn_eval.data_root``) the data root of
the config's loaders is used (``data/kvasir/`` for the full-size configs).
Code: :mod:`mics_mm.evaluation.knn` (shared with ``KNNMonitorHook``).
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from mics_mm.apis import (build_split, config_data_root, config_img_size,
                          config_modalities, load_analysis_config,
                          resize_pipeline)
from mics_mm.evaluation.knn import extract_knn_features, knn_accuracy
from mics_mm.registry import MODELS
from mics_mm.utils.checkpoint_io import read_checkpoint


#: Built-in defaults of the settings a config's ``knn_eval`` may give.
DEFAULTS = dict(k=20, temperature=0.07, train_split='splits/train.json',
                test_split='splits/test.json', batch_size=32, modality=None,
                img_size=None, data_root=None)


def parse_args(argv=None):
    """Parse the command line; a setting not given is None here (filled
    from the config's ``knn_eval`` or :data:`DEFAULTS` by
    :func:`resolve_settings`)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--data-root', default=None,
        help="dataset folder (default: knn_eval.data_root, else the "
        "config's data root)")
    parser.add_argument('--train-split', default=None,
                        help='memory bank (default splits/train.json)')
    parser.add_argument('--test-split', default=None,
                        help='classified split (default splits/test.json)')
    parser.add_argument('--k', type=int, default=None,
                        help='neighbours (default 20)')
    parser.add_argument('--temperature', type=float, default=None,
                        help='vote temperature (default 0.07)')
    parser.add_argument(
        '--modality', default=None,
        help="modality whose feature is used, or 'concat' (default: the "
        "model's first modality)")
    parser.add_argument('--img-size', type=int, default=None,
                        help="default: the config's img_size")
    parser.add_argument('--batch-size', type=int, default=None,
                        help='default 32')
    parser.add_argument('--out', default=None, help='JSON file')
    return parser.parse_args(argv)


def resolve_settings(args, cfg) -> dict:
    """The run's settings: a command-line flag, else the config's
    ``knn_eval`` entry, else :data:`DEFAULTS`; ``data_root`` last falls
    back to the config's data root and ``img_size`` to its ``img_size``.

    Raises:
        SystemExit: ``knn_eval`` is not a dict or has an unknown key.
    """
    from_cfg = cfg.get('knn_eval') or {}
    if not isinstance(from_cfg, dict):
        raise SystemExit(f'error: {args.config}: knn_eval must be a dict, '
                         f'got {type(from_cfg).__name__}.')
    unknown = sorted(set(from_cfg) - set(DEFAULTS))
    if unknown:
        raise SystemExit(f'error: {args.config}: unknown knn_eval keys '
                         f'{unknown}; known: {sorted(DEFAULTS)}.')
    settings = {}
    for key, default in DEFAULTS.items():
        given = getattr(args, key)
        settings[key] = given if given is not None else from_cfg.get(
            key, default)
    if settings['data_root'] is None:
        settings['data_root'] = config_data_root(cfg)
    if settings['img_size'] is None:
        settings['img_size'] = config_img_size(cfg)
    return settings


def load_model(cfg, checkpoint: str) -> torch.nn.Module:
    """The config's model with the checkpoint's backbone weights, in eval
    mode. Only ``backbone.*`` is loaded (all of it must be there): the
    other parts are not used, and some differ in shape from the config
    (MICSQueueSizeHook shortens the consistency queue)."""
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        # the Runner's rule: the top-level preprocessor is the model's
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    ckpt = read_checkpoint(checkpoint)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {k[7:] if k.startswith('module.') else k: v
             for k, v in state.items()}
    weights = {k[len('backbone.'):]: v
               for k, v in state.items() if k.startswith('backbone.')}
    missing, _ = model.backbone.load_state_dict(weights, strict=False)
    if missing:
        raise SystemExit(
            f'error: {checkpoint}: {len(missing)} backbone weights missing '
            f'(e.g. {missing[:3]}); use the config it was trained with.')
    return model.eval()


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_analysis_config(args.config)
    opts = resolve_settings(args, cfg)
    modalities = config_modalities(cfg)
    img_size = opts['img_size']
    pipeline = resize_pipeline(img_size, modalities)
    model = load_model(cfg, args.checkpoint)
    feats = {}
    for name, split in (('train', opts['train_split']),
                        ('test', opts['test_split'])):
        dataset = build_split(opts['data_root'], split, pipeline, modalities)
        loader = DataLoader(dataset, batch_size=opts['batch_size'],
                            shuffle=False, collate_fn=pseudo_collate)
        feats[name] = extract_knn_features(model, loader, opts['modality'])
    (bank, bank_labels), (query, query_labels) = feats['train'], feats['test']
    if opts['k'] > len(bank):
        raise SystemExit(f'error: --k {opts["k"]} is larger than the train '
                         f'split ({len(bank)} samples).')
    top1 = knn_accuracy(bank, bank_labels, query, query_labels, k=opts['k'],
                        temperature=opts['temperature'],
                        num_classes=len(dataset.metainfo['classes']))
    result = dict(
        top1=top1, k=opts['k'], temperature=opts['temperature'],
        modality=opts['modality'] or next(iter(modalities)),
        num_train=len(bank), num_test=len(query), config=args.config,
        checkpoint=args.checkpoint, data_root=opts['data_root'],
        train_split=opts['train_split'], test_split=opts['test_split'],
        img_size=img_size, batch_size=opts['batch_size'])
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return result


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
