"""Grad-CAM heat maps of the MICS fusion classifier, one per modality.

For a fine-tuned ``MICSMultiModalClassifier`` (configs under
``configs/mics/benchmarks/``) and images of a Kvasir-layout split::

    python tools/analysis/gradcam.py configs/mics/finetune_kvasir_demo.py \\
        work_dirs/demo/run_<stamp>/finetune/epoch_30.pth --out gradcam.png

writes a grid: one row per image, two columns per modality (the input, and
the heat map over it); the row title gives the true and predicted class.

Grad-CAM (Selvaraju et al., 2017), written here: the chosen class logit
(``--target pred``: the predicted class, ``gt``: the true class) of the
whole model, i.e. through the fusion neck and the head, is back-propagated
to a feature map ``A`` of each modality's encoder; each channel is weighted
by its spatially averaged gradient, ``w_c = mean_ij dy/dA_cij``, and the map
is ``ReLU(sum_c w_c A_c)``, bilinearly upsampled to the input and scaled to
[0, 1] per image (a map that is zero everywhere stays zero: no evidence for
that class in that modality).

- **CNN encoders** (ResNet, ...): ``A`` is the last stage's output, the map
  the classifier pools.
- **ViT encoders**: ``A`` is the patch tokens *entering* the last
  transformer block, reshaped to the patch grid (the class token and other
  extra tokens are dropped). The tokens that leave the last block cannot be
  used when the encoder outputs the class token (``out_type='cls_token'``,
  the fine-tuning configs): no later layer mixes them into the class token,
  so their gradient is zero. The last block's attention is what carries
  the patches' evidence into the class token.

The model runs in eval mode; the inputs are made to require gradients, so
frozen encoders (the linear-probe configs) work too.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from mics_mm.apis import (DEFAULT_SPLIT, build_split, collate_batches,
                          config_data_root, labels_of, load_analysis_config,
                          load_analysis_state_dict, save_figure,
                          spread_over_classes, to_rgb_image)
from mics_mm.models.utils import load_matching_weights
from mics_mm.testing.kvasir_demo import is_synthetic_demo

TARGETS = ('pred', 'gt')


def is_vit(backbone: nn.Module) -> bool:
    """Whether ``backbone`` is an mmpretrain-style vision transformer."""
    return all(
        hasattr(backbone, attr)
        for attr in ('layers', 'patch_embed', 'num_extra_tokens'))


class FeatureTap:
    """Keeps the Grad-CAM feature map of one encoder during a forward pass.

    CNN: the last element of the encoder's output tuple ``(N, C, h, w)``.
    ViT: the input of the last transformer block ``(N, extra + h * w, C)``
    and the patch grid ``(h, w)`` from the patch embedding.

    Args:
        backbone (nn.Module): The encoder.
    """

    def __init__(self, backbone: nn.Module) -> None:
        self.vit = is_vit(backbone)
        self.extra = int(getattr(backbone, 'num_extra_tokens', 0))
        self.feat: Optional[torch.Tensor] = None
        self.grid: Optional[Tuple[int, int]] = None
        if self.vit:
            self.handles = [
                backbone.layers[-1].register_forward_pre_hook(self._pre),
                backbone.patch_embed.register_forward_hook(self._grid)
            ]
        else:
            self.handles = [backbone.register_forward_hook(self._out)]

    def _keep(self, feat: torch.Tensor) -> None:
        feat.retain_grad()
        self.feat = feat

    def _pre(self, module, args) -> None:
        self._keep(args[0])

    def _grid(self, module, args, out) -> None:
        self.grid = tuple(int(s) for s in out[1])

    def _out(self, module, args, out) -> None:
        feat = out[-1] if isinstance(out, (tuple, list)) else out
        if feat.dim() != 4:
            raise SystemExit(
                f'error: the {type(module).__name__} encoder outputs a '
                f'{tuple(feat.shape)} feature; Grad-CAM needs a CNN map '
                '(N, C, h, w) or a ViT (mmpretrain VisionTransformer).')
        self._keep(feat)

    def maps(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The feature map and its gradient as ``(N, C, h, w)``."""
        feat, grad = self.feat, self.feat.grad
        if grad is None:
            grad = torch.zeros_like(feat)
        if self.vit:
            h, w = self.grid
            n, _, c = feat.shape

            def to_map(tokens):
                return tokens[:, self.extra:].transpose(1, 2).reshape(
                    n, c, h, w)

            feat, grad = to_map(feat), to_map(grad)
        return feat.detach(), grad.detach()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def grad_cam(model: nn.Module, inputs: Dict[str, torch.Tensor],
             target: Optional[torch.Tensor] = None
             ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Grad-CAM of every modality of a ``MICSMultiModalClassifier``.

    Args:
        model (nn.Module): The classifier (``backbones`` per modality, the
            fusion neck and the head; ``model(inputs, mode='tensor')`` gives
            the logits).
        inputs (dict[str, Tensor]): Normalised ``(N, 3, H, W)`` images per
            modality.
        target (Tensor, optional): ``(N,)`` class whose logit is explained;
            None: the predicted class. Defaults to None.

    Returns:
        tuple: ``cams`` (modality -> ``(N, H, W)`` maps in [0, 1]), the
        logits ``(N, K)`` and the explained classes ``(N,)``.
    """
    model.eval()
    taps = {m: FeatureTap(model.backbones[m]) for m in inputs}
    try:
        with torch.enable_grad():
            inputs = {
                m: x.detach().clone().requires_grad_(True)
                for m, x in inputs.items()
            }
            logits = model(inputs, mode='tensor')
            if target is None:
                target = logits.argmax(dim=1)
            target = target.to(logits.device).long().view(-1)
            model.zero_grad(set_to_none=True)
            logits.gather(1, target[:, None]).sum().backward()
        cams = {}
        for m, tap in taps.items():
            feat, grad = tap.maps()
            weights = grad.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * feat).sum(dim=1, keepdim=True))
            cam = F.interpolate(
                cam, size=inputs[m].shape[-2:], mode='bilinear',
                align_corners=False)[:, 0]
            peak = cam.flatten(1).max(dim=1).values.view(-1, 1, 1)
            cams[m] = torch.where(peak > 0, cam / peak.clamp_min(1e-12),
                                  torch.zeros_like(cam))
    finally:
        for tap in taps.values():
            tap.remove()
    return cams, logits.detach(), target


def build_classifier(cfg, state: Dict[str, torch.Tensor],
                     checkpoint: str = 'checkpoint') -> nn.Module:
    """The config's ``MICSMultiModalClassifier`` with the checkpoint's
    weights (the pre-training checkpoint of ``model.pretrained`` is not
    read).

    Args:
        cfg (Config): A MICS fine-tuning config.
        state (dict[str, Tensor]): The checkpoint's state dict.
        checkpoint (str): Name for error messages. Defaults to
            'checkpoint'.

    Returns:
        nn.Module: The model in eval mode.
    """
    model_cfg = dict(cfg.model)
    if model_cfg.get('type') != 'MICSMultiModalClassifier':
        raise SystemExit(
            f"error: model.type is {model_cfg.get('type')!r}; gradcam.py "
            'explains the fusion classifier MICSMultiModalClassifier (the '
            'configs under configs/mics/benchmarks/ with a 10pct / semi / '
            'linear name).')
    model_cfg['pretrained'] = None
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg)
    try:
        load_matching_weights(
            model, state, checkpoint, 'the model of the config',
            hint='Is it a fine-tuning checkpoint of this config? Use the '
            'config the checkpoint was trained with.')
    except ValueError as err:
        raise SystemExit(f'error: {err}') from None
    model.eval()
    return model


def eval_pipeline(cfg) -> list:
    """The config's test (else val) pipeline: deterministic resizing."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        if dataset.get('pipeline'):
            return list(dataset['pipeline'])
    raise SystemExit('error: the config has no test_dataloader / '
                     'val_dataloader pipeline; use a fine-tuning config.')


def overlay(image: np.ndarray, cam: np.ndarray,
            alpha: float = 0.5) -> np.ndarray:
    """Blend a ``jet``-coloured heat map over an RGB uint8 image.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8.
        cam (np.ndarray): ``(H, W)`` in [0, 1].
        alpha (float): Weight of the heat map. Defaults to 0.5.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8.
    """
    from matplotlib import colormaps
    heat = colormaps['jet'](np.clip(cam, 0, 1))[..., :3] * 255
    out = (1 - alpha) * image.astype(np.float64) + alpha * heat
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


CELL = 1.6  # inches per image
HEADER = 0.55  # inches above the grid (title and column names)
ROW_LABEL = 0.25  # inches left of the grid


def figure_size(rows: int, modalities: int) -> Tuple[float, float]:
    """Figure size in inches of the grid (PNG pixels: size x dpi)."""
    return (ROW_LABEL + 2 * modalities * CELL, HEADER + rows * CELL)


def plot_grid(images: Dict[str, List[np.ndarray]],
              cams: Dict[str, List[np.ndarray]], row_titles: Sequence[str],
              title: str, path: str, dpi: int = 80) -> str:
    """Rows = images; per modality: input | overlay.

    Args:
        images (dict[str, list[np.ndarray]]): Modality -> RGB images.
        cams (dict[str, list[np.ndarray]]): Modality -> heat maps.
        row_titles (Sequence[str]): Caption of each row.
        title (str): Figure title.
        path (str): Output PNG.
        dpi (int): Dots per inch. Defaults to 80.

    Returns:
        str: The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(images)
    rows = len(row_titles)
    width, height = figure_size(rows, len(names))
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    for r in range(rows):
        for k, m in enumerate(names):
            for j, (pic, label) in enumerate(
                ((images[m][r], f'{m.upper()} input'),
                 (overlay(images[m][r], cams[m][r]), f'{m.upper()} Grad-CAM'
                  ))):
                col = 2 * k + j
                left = (ROW_LABEL + col * CELL) / width
                bottom = (height - HEADER - (r + 1) * CELL) / height
                ax = fig.add_axes(
                    (left + 0.02 * CELL / width, bottom + 0.02 * CELL /
                     height, 0.96 * CELL / width, 0.86 * CELL / height))
                ax.imshow(pic, interpolation='nearest')
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(label, fontsize=8, pad=2)
                if col == 0:
                    ax.set_ylabel(row_titles[r], fontsize=6)
    fig.suptitle(title, fontsize=8, y=1 - 0.08 / height, va='top')
    return save_figure(fig, path, dpi)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='MICS fine-tuning config')
    parser.add_argument('checkpoint', help='fine-tuned checkpoint (.pth)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument(
        '--split', default=DEFAULT_SPLIT,
        help='split file, relative to the data root (default: %(default)s)')
    parser.add_argument(
        '--data-root', help="data root (default: the config's)")
    parser.add_argument(
        '--num-images', type=int, default=4,
        help='images (rows), taking the classes in turn (default: 4)')
    parser.add_argument(
        '--target', choices=TARGETS, default='pred',
        help='explain the predicted (pred) or the true (gt) class')
    parser.add_argument('--dpi', type=int, default=80)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Run Grad-CAM on a few images and save the grid; return a summary."""
    args = parse_args(argv)
    if args.num_images < 1:
        raise SystemExit('error: --num-images must be at least 1.')
    cfg = load_analysis_config(args.config)
    model = build_classifier(cfg, load_analysis_state_dict(args.checkpoint),
                             args.checkpoint)
    modalities = tuple(model.modalities)
    data_root = args.data_root or config_data_root(cfg)
    dataset = build_split(data_root, args.split, eval_pipeline(cfg),
                          modalities)
    indices = spread_over_classes(labels_of(dataset), args.num_images)
    data = next(collate_batches(dataset, indices, len(indices)))
    raw = data['inputs']
    processed = model.data_preprocessor(data, False)
    gt = torch.tensor(
        [int(s.gt_label.reshape(-1)[0]) for s in processed['data_samples']])
    cams, logits, target = grad_cam(model, processed['inputs'],
                                    gt if args.target == 'gt' else None)
    pred = logits.argmax(dim=1)
    classes = list(dataset.metainfo.get('classes') or [])

    def name(c: int) -> str:
        return classes[c] if c < len(classes) else str(c)

    # Packed images are BGR as loaded (the data preprocessor flips them).
    images = {
        m: [to_rgb_image(img) for img in raw[m]]
        for m in modalities
    }
    cam_np = {m: [c.numpy() for c in cams[m]] for m in modalities}
    row_titles = [
        f'gt {name(int(g))}\npred {name(int(p))}'
        for g, p in zip(gt, pred)
    ]
    title = (f'Grad-CAM of the {args.target} class: '
             f'{osp.basename(args.checkpoint)}')
    if is_synthetic_demo(data_root):
        title += ' (synthetic demo data - NOT real endoscopy)'
    plot_grid(images, cam_np, row_titles, title, args.out, args.dpi)
    print(f'saved {args.out}')
    return dict(
        out=args.out,
        indices=indices,
        gt=gt.tolist(),
        pred=pred.tolist(),
        target=target.tolist(),
        classes=classes,
        cams=cams)


if __name__ == '__main__':
    main()
