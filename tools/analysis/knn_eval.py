"""Weighted kNN accuracy of a pre-trained encoder (InstDisc / DINO protocol).

::

    python tools/analysis/knn_eval.py \\
        configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py \\
        work_dirs/<run>/epoch_10.pth --data-root data/kvasir_demo_synthetic \\
        [--k 20] [--temperature 0.07] [--modality wli] [--out knn.json]

The model of CONFIG is built and the ``backbone.*`` weights of the
checkpoint's ``state_dict`` loaded (read with ``weights_only=True`` by
``mics_mm.utils.checkpoint_io.read_checkpoint``; every backbone weight
must be there). The labelled train split (``--train-split``, default
``splits/train.json``) is the memory bank,
the test split (``--test-split``, default ``splits/test.json``) is
classified; both are read as ``KvasirDataset`` (the type of every Kvasir
config) with the resize-only pipeline at the config's ``img_size``. Features:
``model.extract_feat``, last stage average-pooled (class token of a ViT), of
``--modality`` (a modality or ``concat``; default the model's first).
Prints and optionally writes (``--out``) a JSON with ``top1``.
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

from mics_mm.apis import (build_split, config_img_size, config_modalities,
                          load_analysis_config, resize_pipeline)
from mics_mm.evaluation.knn import extract_knn_features, knn_accuracy
from mics_mm.registry import MODELS
from mics_mm.utils.checkpoint_io import read_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--train-split', default='splits/train.json')
    parser.add_argument('--test-split', default='splits/test.json')
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument(
        '--modality', default=None,
        help="modality whose feature is used, or 'concat' (default: the "
        "model's first modality)")
    parser.add_argument('--img-size', type=int, default=None)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--out', default=None, help='JSON file')
    return parser.parse_args(argv)


def load_model(cfg, checkpoint: str) -> torch.nn.Module:
    """The config's model with the checkpoint's backbone weights, in eval
    mode. Only ``backbone.*`` is loaded (all of it must be there): the
    other parts are not used, and some differ in shape from the config
    (MICSQueueSizeHook shortens the consistency queue)."""
    model = MODELS.build(cfg.model)
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
    modalities = config_modalities(cfg)
    img_size = args.img_size or config_img_size(cfg)
    pipeline = resize_pipeline(img_size, modalities)
    model = load_model(cfg, args.checkpoint)
    feats = {}
    for name, split in (('train', args.train_split),
                        ('test', args.test_split)):
        dataset = build_split(args.data_root, split, pipeline, modalities)
        loader = DataLoader(dataset, batch_size=args.batch_size,
                            shuffle=False, collate_fn=pseudo_collate)
        feats[name] = extract_knn_features(model, loader, args.modality)
    (bank, bank_labels), (query, query_labels) = feats['train'], feats['test']
    if args.k > len(bank):
        raise SystemExit(f'error: --k {args.k} is larger than the train '
                         f'split ({len(bank)} samples).')
    top1 = knn_accuracy(bank, bank_labels, query, query_labels, k=args.k,
                        temperature=args.temperature,
                        num_classes=len(dataset.metainfo['classes']))
    result = dict(
        top1=top1, k=args.k, temperature=args.temperature,
        modality=args.modality or next(iter(modalities)),
        num_train=len(bank), num_test=len(query), config=args.config,
        checkpoint=args.checkpoint, data_root=args.data_root,
        train_split=args.train_split, test_split=args.test_split,
        img_size=img_size)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return result


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
