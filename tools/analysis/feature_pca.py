"""PCA map of a pre-trained encoder's features on both modalities of a split.

Features of a pre-trained encoder (a MICS pre-training checkpoint, any
mmpretrain self-supervised checkpoint with ``backbone.`` keys such as
SimCLR / MoCo v3 / BYOL / MAE, an ``ImageClassifier``, or a fine-tuned
``MICSMultiModalClassifier`` whose per-modality encoders are under
``backbones.<modality>.``) on the WLI and the (simulated) NBI image of every
sample of a Kvasir-layout split, projected to 2D by PCA (numpy SVD; no UMAP,
no scikit-learn), and a modality-alignment score::

    python tools/analysis/feature_pca.py \\
        configs/mics/pretrain_kvasir_demo.py \\
        work_dirs/demo/run_<stamp>/pretrain/epoch_10.pth --out pca.png

- **Encoder.** ``model.backbone`` of CONFIG. The masked pre-training
  backbones are built as their plain counterparts with the same depth / arch
  (``MaskedResNet`` -> ``ResNet``, ``MAEViT`` -> ``VisionTransformer``)
  and give unmasked features. Every weight of the encoder must be in the
  checkpoint under the prefix; extra keys (``mask_token``) are ignored.
- **Images.** The split file (default ``splits/test.json`` under the
  config's data root) through the deterministic test pipeline of the
  fine-tuning configs (load, simulated NBI, resize to the config's
  ``img_size``), normalised with the config's data-preprocessor statistics.
- **Features.** The last stage pooled by ``mics_mm.models.utils.
  global_feature`` (average of a CNN map, class token of a ViT), then
  L2-normalised (the cosine geometry of the contrastive losses). PCA is
  fitted on the WLI and NBI features together.
- **Alignment** (``<out>.json``): ``paired_cosine_mean``, the mean cosine
  similarity of each image's WLI and NBI features; ``unpaired_cosine_mean``,
  the mean over all unpaired (image i's WLI, image j's NBI, i != j) pairs,
  i.e. the expectation over random unpaired pairs, computed exactly;
  ``cosine_gap``, their difference; ``retrieval_top1``, the fraction of
  images whose own NBI feature is the nearest (cosine) of all NBI features
  to their WLI feature (chance: ``1 / num_images``).
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmpretrain.registry import MODELS
from torch import nn

from mics_mm.apis import (DEFAULT_SPLIT, build_split, collate_batches,
                          config_data_root, config_img_size, config_modalities,
                          labels_of, load_analysis_config,
                          load_analysis_state_dict, resize_pipeline,
                          save_figure, spread_over_classes)
from mics_mm.models.utils import global_feature, load_matching_weights
from mics_mm.testing.kvasir_demo import is_synthetic_demo

# Masked pre-training backbones -> the plain backbone with the same weights,
# and the arguments only the masked forward uses.
PLAIN_BACKBONES = {
    'MaskedResNet': ('ResNet', ('mask_patch_size', 'mask_ratio')),
    'MAEViT': ('VisionTransformer', ('mask_ratio', )),
}
# Output format of MAEViT when unset (VisionTransformer defaults to the
# class token alone; global_feature takes the class token of either).
MAEVIT_OUT_TYPE = 'raw'


def plain_backbone_cfg(backbone: dict) -> dict:
    """The config of an encoder that gives unmasked features.

    Args:
        backbone (dict): ``model.backbone`` of a pre-training or fine-tuning
            config.

    Returns:
        dict: The same backbone with masking removed (``MaskedResNet``
        -> ``ResNet``, ``MAEViT`` -> ``VisionTransformer``), no
        ``init_cfg`` (the checkpoint is loaded afterwards) and BN instead
        of SyncBN (features are extracted in eval mode on one process).
    """
    cfg = dict(backbone)
    kind = cfg.get('type')
    if kind in PLAIN_BACKBONES:
        plain, masking_args = PLAIN_BACKBONES[kind]
        if kind == 'MAEViT':
            cfg.setdefault('out_type', MAEVIT_OUT_TYPE)
        cfg['type'] = plain
        for key in masking_args:
            cfg.pop(key, None)
    cfg.pop('init_cfg', None)
    norm = cfg.get('norm_cfg')
    if isinstance(norm, dict) and norm.get('type') == 'SyncBN':
        cfg['norm_cfg'] = dict(norm, type='BN')
    return cfg


def encoder_prefixes(model_cfg: dict, modalities: Sequence[str],
                     prefix: Optional[str] = None) -> Dict[str, str]:
    """State-dict prefix of the encoder that embeds each modality.

    Args:
        model_cfg (dict): ``model`` of the config.
        modalities (Sequence[str]): Modality names.
        prefix (str, optional): One prefix for every modality; None picks
            ``backbones.<modality>.`` for ``MICSMultiModalClassifier`` and
            ``backbone.`` otherwise. Defaults to None.

    Returns:
        dict[str, str]: Modality -> prefix.
    """
    if prefix is not None:
        return {m: prefix for m in modalities}
    if model_cfg.get('type') == 'MICSMultiModalClassifier':
        return {m: f'backbones.{m}.' for m in modalities}
    return {m: 'backbone.' for m in modalities}


def load_encoders(backbone_cfg: dict, state: Dict[str, torch.Tensor],
                  prefixes: Dict[str, str],
                  checkpoint: str = 'checkpoint') -> Dict[str, nn.Module]:
    """Build the plain encoder once per distinct prefix and load it.

    Args:
        backbone_cfg (dict): ``model.backbone`` of the config.
        state (dict[str, Tensor]): The checkpoint's state dict.
        prefixes (dict[str, str]): Modality -> prefix.
        checkpoint (str): Name for error messages. Defaults to
            'checkpoint'.

    Returns:
        dict[str, nn.Module]: Modality -> encoder in eval mode (modalities
        with the same prefix share it).
    """
    cfg = plain_backbone_cfg(backbone_cfg)
    built: Dict[str, nn.Module] = {}
    for prefix in dict.fromkeys(prefixes.values()):
        encoder = MODELS.build(cfg)
        weights = {
            k[len(prefix):]: v
            for k, v in state.items() if k.startswith(prefix)
        }
        found = sorted({k.split('.')[0] + '.' for k in state})[:8]
        try:
            load_matching_weights(
                encoder, weights, checkpoint,
                f'the {cfg["type"]} encoder under {prefix!r}',
                hint=f'Top-level keys in the checkpoint: {found}. Use the '
                'config the checkpoint was trained with, or give --prefix.',
                prefix=prefix)
        except ValueError as err:
            raise SystemExit(f'error: {err}') from None
        encoder.eval()  # (mmpretrain's ResNet.train returns None)
        built[prefix] = encoder
    return {m: built[p] for m, p in prefixes.items()}


def build_preprocessor(cfg, modalities: Sequence[str]) -> nn.Module:
    """``PerModalityDataPreprocessor`` with the config's mean / std / to_rgb."""
    source = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}
    return MODELS.build(
        dict(
            type='PerModalityDataPreprocessor',
            mean=source.get('mean'),
            std=source.get('std'),
            to_rgb=source.get('to_rgb', True),
            modalities=tuple(modalities)))


@torch.no_grad()
def extract_features(encoders: Dict[str, nn.Module], preprocessor: nn.Module,
                     dataset, indices: Sequence[int],
                     batch_size: int = 16) -> Dict[str, np.ndarray]:
    """Pooled last-stage features of every modality.

    Args:
        encoders (dict[str, nn.Module]): Modality -> encoder.
        preprocessor (nn.Module): Normalises a collated batch.
        dataset: Dataset whose samples hold every modality.
        indices (Sequence[int]): Samples, in this order.
        batch_size (int): Samples per forward pass. Defaults to 16.

    Returns:
        dict[str, np.ndarray]: Modality -> ``(N, C)`` float64 features.
    """
    feats: Dict[str, List[np.ndarray]] = {m: [] for m in encoders}
    for data in collate_batches(dataset, indices, batch_size):
        inputs = preprocessor(data, False)['inputs']
        for m, encoder in encoders.items():
            out = encoder(inputs[m])
            out = out[-1] if isinstance(out, (tuple, list)) else out
            feats[m].append(global_feature(out).double().numpy())
    return {m: np.concatenate(v) for m, v in feats.items()}


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def pca_2d(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Project rows onto their first two principal axes.

    The rows are centred and decomposed by SVD, ``X - mean = U S V^T``; the
    coordinates are ``(X - mean) V[:, :2]`` and the explained-variance
    ratios ``S_k^2 / sum S^2``. Each axis is signed so that its largest
    loading is positive (the same data give the same picture).

    Args:
        x (np.ndarray): ``(n, d)`` data, ``n >= 2``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(n, 2)`` coordinates and the two
        explained-variance ratios (zero-padded when ``min(n, d) < 2``).
    """
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(len(axes)),
                         np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    coords = centred @ axes.T
    total = float((s**2).sum())
    ratio = (s[:2]**2) / total if total > 0 else np.zeros(len(axes))
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        ratio = np.pad(ratio, (0, 2 - len(ratio)))
    return coords, ratio


def alignment_scores(a: np.ndarray, b: np.ndarray) -> Dict[str, float]:
    """How well image i's feature in modality A matches its feature in B.

    Args:
        a (np.ndarray): ``(N, C)`` features of modality A (e.g. WLI).
        b (np.ndarray): ``(N, C)`` features of the same images in modality
            B (e.g. NBI), row i = image i.

    Returns:
        dict: ``paired_cosine_mean`` (mean of cos(a_i, b_i)),
        ``unpaired_cosine_mean`` (mean of cos(a_i, b_j) over all i != j;
        None for one image), ``cosine_gap`` (their difference),
        ``retrieval_top1`` (fraction of i with ``argmax_j cos(a_i, b_j) ==
        i``) and ``retrieval_top1_chance`` (1 / N).
    """
    if a.shape != b.shape or a.ndim != 2 or len(a) == 0:
        raise ValueError(f'need two (N, C) feature arrays of one shape, got '
                         f'{a.shape} and {b.shape}')
    sim = l2_normalise(a) @ l2_normalise(b).T
    n = len(a)
    paired = float(np.trace(sim) / n)
    unpaired = (float((sim.sum() - np.trace(sim)) / (n * (n - 1)))
                if n > 1 else None)
    top1 = float((sim.argmax(axis=1) == np.arange(n)).mean())
    return dict(
        paired_cosine_mean=paired,
        unpaired_cosine_mean=unpaired,
        cosine_gap=None if unpaired is None else paired - unpaired,
        retrieval_top1=top1,
        retrieval_top1_chance=1.0 / n)


CLASS_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*', '<', '>', 'h', 'p')
MODALITY_MARKERS = ('o', '^', 's', 'D')
MODALITY_COLOURS = ('tab:orange', 'tab:blue', 'tab:green', 'tab:red')


def plot(coords: Dict[str, np.ndarray], labels: Sequence[int],
         classes: Sequence[str], title: str, path: str,
         dpi: int = 80) -> str:
    """Two panels of the same 2D points: coloured by class (marker =
    modality) and by modality (marker = class); thin lines join the
    modalities of one image in the second panel.

    Args:
        coords (dict[str, np.ndarray]): Modality -> ``(N, 2)`` points.
        labels (Sequence[int]): Class of each image.
        classes (Sequence[str]): Class names.
        title (str): Figure title.
        path (str): Output PNG.
        dpi (int): Dots per inch; the PNG is ``(11 x 5.2) * dpi`` pixels.
            Defaults to 80.

    Returns:
        str: The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = np.asarray(labels)
    names = list(coords)
    fig = Figure(figsize=(11, 5.2))
    FigureCanvasAgg(fig)
    ax_cls, ax_mod = fig.subplots(1, 2)
    colours = [
        'tab:blue', 'tab:orange', 'tab:green', 'tab:red', 'tab:purple',
        'tab:brown', 'tab:pink', 'tab:gray', 'tab:olive', 'tab:cyan'
    ]
    present = sorted(set(int(c) for c in labels))
    for k, m in enumerate(names):
        for c in present:
            sel = labels == c
            ax_cls.scatter(
                coords[m][sel, 0], coords[m][sel, 1], s=22,
                c=colours[c % len(colours)],
                marker=MODALITY_MARKERS[k % len(MODALITY_MARKERS)],
                alpha=0.8, linewidths=0)
    if len(names) == 2:
        a, b = coords[names[0]], coords[names[1]]
        for i in range(len(labels)):
            ax_mod.plot([a[i, 0], b[i, 0]], [a[i, 1], b[i, 1]],
                        color='0.75', linewidth=0.5, zorder=0)
    for k, m in enumerate(names):
        for c in present:
            sel = labels == c
            ax_mod.scatter(
                coords[m][sel, 0], coords[m][sel, 1], s=22,
                c=MODALITY_COLOURS[k % len(MODALITY_COLOURS)],
                marker=CLASS_MARKERS[c % len(CLASS_MARKERS)], alpha=0.8,
                linewidths=0)
    # Legends: classes (colour / marker), modalities (marker / colour).
    from matplotlib.lines import Line2D
    class_handles = [
        Line2D([], [], linestyle='', marker='o', color=colours[c % 10],
               label=str(classes[c]) if c < len(classes) else str(c))
        for c in present
    ]
    mod_handles = [
        Line2D([], [], linestyle='', color='0.3',
               marker=MODALITY_MARKERS[k % len(MODALITY_MARKERS)],
               label=m.upper()) for k, m in enumerate(names)
    ]
    ax_cls.legend(handles=class_handles + mod_handles, fontsize=6,
                  loc='best', framealpha=0.6)
    ax_mod.legend(
        handles=[
            Line2D([], [], linestyle='', marker='o',
                   color=MODALITY_COLOURS[k % len(MODALITY_COLOURS)],
                   label=m.upper()) for k, m in enumerate(names)
        ] + [
            Line2D([], [], linestyle='', color='0.3',
                   marker=CLASS_MARKERS[c % len(CLASS_MARKERS)],
                   label=str(classes[c]) if c < len(classes) else str(c))
            for c in present
        ],
        fontsize=6, loc='best', framealpha=0.6)
    ax_cls.set_title('coloured by class (marker: modality)', fontsize=9)
    ax_mod.set_title('coloured by modality (marker: class)', fontsize=9)
    for ax in (ax_cls, ax_mod):
        ax.set_xlabel('PC 1', fontsize=8)
        ax.set_ylabel('PC 2', fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='pre-training or fine-tuning config')
    parser.add_argument('checkpoint', help='checkpoint (.pth)')
    parser.add_argument('--out', required=True, help='output PNG; the '
                        'alignment JSON is written beside it (.json)')
    parser.add_argument(
        '--split', default=DEFAULT_SPLIT,
        help='split file, relative to the data root (default: %(default)s)')
    parser.add_argument(
        '--data-root', help="data root (default: the config's)")
    parser.add_argument(
        '--max-images', type=int, default=None,
        help='at most this many images, taking the classes in turn '
        '(default: all)')
    parser.add_argument(
        '--prefix', help='state-dict prefix of the encoder (default: '
        "'backbones.<modality>.' for MICSMultiModalClassifier, else "
        "'backbone.')")
    parser.add_argument('--img-size', type=int,
                        help="input side (default: the config's img_size)")
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--dpi', type=int, default=80)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Extract, project, score and plot; return the JSON written."""
    args = parse_args(argv)
    cfg = load_analysis_config(args.config)
    modalities = config_modalities(cfg)
    if len(modalities) != 2:
        raise SystemExit(f'error: the alignment score compares two '
                         f'modalities; the config has {modalities}.')
    data_root = args.data_root or config_data_root(cfg)
    img_size = args.img_size or config_img_size(cfg)
    dataset = build_split(data_root, args.split,
                          resize_pipeline(img_size, modalities), modalities)
    labels_all = labels_of(dataset)
    indices = spread_over_classes(labels_all, args.max_images)
    if len(indices) < 2:
        raise SystemExit(f'error: {len(indices)} image(s) in {args.split!r};'
                         ' PCA and the alignment score need at least 2.')
    state = load_analysis_state_dict(args.checkpoint)
    prefixes = encoder_prefixes(cfg.model, modalities, args.prefix)
    encoders = load_encoders(cfg.model.backbone, state, prefixes,
                             args.checkpoint)
    feats = extract_features(encoders, build_preprocessor(cfg, modalities),
                             dataset, indices, args.batch_size)
    labels = [labels_all[i] for i in indices]
    normed = {m: l2_normalise(f) for m, f in feats.items()}
    coords, ratio = pca_2d(np.concatenate([normed[m] for m in modalities]))
    n = len(indices)
    per_modality = {m: coords[k * n:(k + 1) * n]
                    for k, m in enumerate(modalities)}
    scores = alignment_scores(feats[modalities[0]], feats[modalities[1]])
    classes = list(dataset.metainfo.get('classes') or [])
    synthetic = is_synthetic_demo(data_root)
    result = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        data_root=data_root,
        split=args.split,
        synthetic_data=synthetic,
        modalities=list(modalities),
        encoder_prefixes=prefixes,
        num_images=n,
        feature_dim=int(feats[modalities[0]].shape[1]),
        pca_explained_variance_ratio=[float(r) for r in ratio],
        retrieval_direction=f'{modalities[0]} -> {modalities[1]}',
        **scores,
        classes=classes)
    title = (f'{osp.basename(args.checkpoint)}: {n} images, '
             f'{modalities[0].upper()}/{modalities[1].upper()} cosine '
             f'paired {scores["paired_cosine_mean"]:.2f} vs unpaired '
             f'{scores["unpaired_cosine_mean"]:.2f}, top-1 retrieval '
             f'{scores["retrieval_top1"]:.2f} (chance '
             f'{scores["retrieval_top1_chance"]:.2f}); PCA '
             f'{ratio[0]:.0%} + {ratio[1]:.0%} of variance')
    if synthetic:
        title += '\nsynthetic demo data - NOT real endoscopy'
    plot(per_modality, labels, classes, title, args.out, args.dpi)
    json_path = osp.splitext(args.out)[0] + '.json'
    with open(json_path, 'w') as f:
        json.dump(result, f, indent=2)
    print(f'saved {args.out} and {json_path}')
    print(json.dumps(scores, indent=2))
    return result


if __name__ == '__main__':
    main()
