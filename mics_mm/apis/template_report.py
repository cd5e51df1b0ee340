"""How far BrainMVP's learned templates look like the training data.

A BrainMVP template is meant to distil what its modality typically looks
like on the canvas (docs/methods.md, "BrainMVP: proxy tasks"). This module
compares each template, min-max normalised to [0, 1] as the model uses it,
with the mean training image of its modality placed on the same canvas the
way the pre-training pipeline places it: the config's own deterministic
pipeline head (loading, resampling, ``PlaceOnCanvas``, foreground crops,
percentile normalisation) is run on every training study and the result is
pasted at its ``canvas_offset``. The measure is the Pearson correlation
inside the brain (the non-zero voxels of the mean image).
``tools/analysis/template_correlation.py`` is the command line.
"""
import copy
import io
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ..structures import MRI_MODALITIES, canonical_modality
from ..utils.checkpoint_io import read_checkpoint

__all__ = [
    'TEMPLATES_KEY', 'read_templates', 'config_from_checkpoint',
    'pipeline_head', 'training_dataset_cfg', 'mean_images_on_canvas',
    'normalise_template', 'masked_pearson', 'template_correlations',
    'template_report', 'format_report', 'report_to_json',
    'save_template_montage'
]

TEMPLATES_KEY = 'templates.templates'
# Transforms that draw at random or pack: the deterministic head of a
# pre-training pipeline ends before the first of these.
_TAIL_TYPES = ('SampleModalities', 'RandomSlice2D', 'TakeSlice2D', 'CropPad',
               'RandomPatch3D', 'RandomFlip3D', 'PackMRIInputs',
               'PackInputs', 'PackMultiModalInputs')


def _type_name(transform) -> str:
    kind = transform.get('type', '') if isinstance(transform, dict) else ''
    return kind if isinstance(kind, str) else getattr(kind, '__name__', '')


def read_templates(checkpoint: str, key: str = TEMPLATES_KEY) -> torch.Tensor:
    """The raw templates ``(M, *canvas)`` of a BrainMVP checkpoint.

    Args:
        checkpoint (str): ``.pth`` file (read with ``weights_only=True``).
        key (str): State-dict key. Defaults to ``'templates.templates'``.

    Returns:
        Tensor: float32, on the CPU.

    Raises:
        FileNotFoundError: No such file.
        KeyError: The checkpoint has no ``key`` (message names both).
        ValueError: ``key`` is not a ``(M, X, Y, Z)`` tensor.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'template_correlation: checkpoint {checkpoint!r} not found.')
    ckpt = read_checkpoint(checkpoint)
    state = ckpt.get('state_dict', ckpt)
    if key not in state:
        raise KeyError(
            f'template_correlation: checkpoint {checkpoint!r} has no '
            f'{key!r} (no BrainMVP templates); give a BrainMVP pre-training '
            'checkpoint with model.templates set, or --key for another '
            'state-dict key.')
    templates = state[key]
    if not torch.is_tensor(templates) or templates.dim() != 4:
        shape = tuple(templates.shape) if torch.is_tensor(templates) else \
            type(templates).__name__
        raise ValueError(f'template_correlation: {key!r} in {checkpoint!r} '
                         f'is {shape}, expected (modalities, X, Y, Z).')
    return templates.detach().float().cpu()


def config_from_checkpoint(checkpoint: str) -> Config:
    """The config an mmengine checkpoint was trained with (``meta.cfg``).

    Raises:
        ValueError: The checkpoint carries no config (give one).
    """
    meta = read_checkpoint(checkpoint).get('meta') or {}
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not text:
        raise ValueError(
            f'template_correlation: {checkpoint!r} carries no config '
            "(meta['cfg']); give the pre-training config with --config.")
    return Config.fromstring(text, file_format='.py')


def training_dataset_cfg(cfg: Config) -> dict:
    """The innermost dataset of ``train_dataloader`` (through wrappers such
    as ``RepeatDataset``; the first one of a ``ConcatDataset``)."""
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset:
        if 'dataset' in dataset:
            dataset = dataset['dataset']
        elif 'datasets' in dataset:
            dataset = dataset['datasets'][0]
        else:
            raise ValueError('template_correlation: no dataset with a '
                             'pipeline in the config\'s train_dataloader.')
    return copy.deepcopy(dict(dataset))


def pipeline_head(pipeline: Sequence[dict]) -> List[dict]:
    """The deterministic head of a training pipeline, through canvas
    placement: ``CachedCompose``'s transforms are unwrapped; the head ends
    before the first transform that draws at random or packs.

    Raises:
        ValueError: The head never places the study on a canvas.
    """
    head: List[dict] = []
    for transform in pipeline:
        if _type_name(transform) == 'CachedCompose':
            items = list(transform['transforms'])
        else:
            items = [transform]
        for item in items:
            if _type_name(item) in _TAIL_TYPES:
                break
            head.append(copy.deepcopy(dict(item)))
        else:
            continue
        break
    if not any(_type_name(t) == 'PlaceOnCanvas' for t in head):
        raise ValueError(
            'template_correlation: the training pipeline places nothing on a '
            'canvas before its random tail (no PlaceOnCanvas in '
            f'{[_type_name(t) for t in head]}); templates have no position.')
    return head


def _paste(canvas: np.ndarray, volume: np.ndarray,
           offset: Sequence[int]) -> None:
    """Add ``volume`` into ``canvas`` at ``offset`` (clipped to it)."""
    dst, src = [], []
    for start, size, limit in zip(offset, volume.shape, canvas.shape):
        lo, hi = max(int(start), 0), min(int(start) + size, limit)
        if hi <= lo:
            return
        dst.append(slice(lo, hi))
        src.append(slice(lo - int(start), hi - int(start)))
    canvas[tuple(dst)] += volume[tuple(src)]


def mean_images_on_canvas(cfg: Config, data_root: Optional[str] = None
                          ) -> Tuple[Dict[str, np.ndarray], Dict[str, int],
                                     Tuple[int, ...]]:
    """Mean training image of every modality, on the canvas.

    Every study of the config's training set goes through the pipeline head
    (:func:`pipeline_head`) and each modality is pasted at the study's
    ``canvas_offset``; the mean is over the studies having the modality.

    Args:
        cfg (Config): A BrainMVP pre-training config.
        data_root (str, optional): Replaces the dataset's ``data_root``.

    Returns:
        tuple: ``means`` (modality -> canvas array), ``counts`` (modality ->
        number of studies) and the canvas shape.
    """
    from mmcv.transforms import Compose
    from mics_mm.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mics_mm'))
    dataset_cfg = training_dataset_cfg(cfg)
    head = pipeline_head(dataset_cfg['pipeline'])
    dataset_cfg['pipeline'] = []
    if data_root is not None:
        dataset_cfg['data_root'] = data_root
    dataset = DATASETS.build(dataset_cfg)
    pipeline = Compose(head)
    sums: Dict[str, np.ndarray] = {}
    counts: Dict[str, int] = {}
    canvas: Optional[Tuple[int, ...]] = None
    for index in range(len(dataset)):
        results = pipeline(copy.deepcopy(dataset.get_data_info(index)))
        shape = tuple(int(s) for s in results['canvas_shape'])
        if canvas is None:
            canvas = shape
        elif shape != canvas:
            raise ValueError(f'template_correlation: study '
                             f'{results.get("case")!r} lies on a {shape} '
                             f'canvas, the others on {canvas}.')
        for channel, name in enumerate(results['modalities']):
            name = canonical_modality(name)
            if name not in sums:
                sums[name] = np.zeros(canvas, dtype=np.float64)
                counts[name] = 0
            _paste(sums[name], np.asarray(results['img'][channel]),
                   results['canvas_offset'])
            counts[name] += 1
    if canvas is None:
        raise ValueError('template_correlation: the training set is empty.')
    means = {name: sums[name] / counts[name] for name in sums}
    return means, counts, canvas


def normalise_template(template: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1], as ``BrainMVPModalityTemplates`` feeds it in."""
    template = np.asarray(template, dtype=np.float64)
    low = template.min()
    return (template - low) / max(float(template.max() - low), 1e-6)


def masked_pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` over ``mask`` (NaN when either
    is constant there)."""
    x = np.asarray(a, dtype=np.float64)[mask]
    y = np.asarray(b, dtype=np.float64)[mask]
    x = x - x.mean()
    y = y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float('nan')


def template_correlations(templates: torch.Tensor,
                          means: Dict[str, np.ndarray],
                          counts: Optional[Dict[str, int]] = None,
                          vocabulary: Sequence[str] = MRI_MODALITIES
                          ) -> Dict[str, dict]:
    """Per modality: Pearson r of the normalised template and the mean image
    inside the brain (non-zero voxels of the mean image).

    Args:
        templates (Tensor): ``(M, *canvas)`` raw templates.
        means (dict): Modality -> mean image on the canvas.
        counts (dict, optional): Modality -> number of studies.
        vocabulary (Sequence[str]): Modality of each template.

    Returns:
        dict: Modality (vocabulary order) -> ``dict(r, voxels, studies,
        template_range)``; ``template_range`` is the raw template's
        ``(min, max)`` (both 0: the template never learnt).
    """
    values = templates.detach().double().cpu().numpy()
    rows = {}
    for name in vocabulary:
        if name not in means:
            continue
        index = list(vocabulary).index(name)
        if index >= len(values):
            raise ValueError(f'template_correlation: no template for '
                             f'{name!r} ({len(values)} templates).')
        if values[index].shape != means[name].shape:
            raise ValueError(
                f'template_correlation: templates on a '
                f'{values[index].shape} canvas, the data on '
                f'{means[name].shape}; set --config to the pre-training '
                'config (its canvas).')
        mask = means[name] != 0
        rows[name] = dict(
            r=masked_pearson(normalise_template(values[index]), means[name],
                             mask),
            voxels=int(mask.sum()),
            studies=int((counts or {}).get(name, 0)),
            template_range=[float(values[index].min()),
                            float(values[index].max())])
    return rows


def template_report(checkpoint: str,
                    data_root: Optional[str] = None,
                    config: Optional[str] = None,
                    key: str = TEMPLATES_KEY,
                    return_arrays: bool = False):
    """Correlate a checkpoint's templates with the training data.

    Args:
        checkpoint (str): BrainMVP pre-training checkpoint.
        data_root (str, optional): Data folder (replaces the config's).
        config (str, optional): Pre-training config; None reads the one the
            checkpoint stores.
        key (str): State-dict key of the templates.
        return_arrays (bool): Also return ``(templates, means)`` for a
            montage.

    Returns:
        dict: ``checkpoint``, ``config``, ``data_root``, ``canvas``,
        ``modalities`` (see :func:`template_correlations`) and ``mean_r``;
        with ``return_arrays`` a tuple ``(report, templates, means)``.
    """
    templates = read_templates(checkpoint, key)
    if config is not None:
        if not osp.isfile(config):
            raise FileNotFoundError(
                f'template_correlation: config {config!r} not found.')
        cfg = Config.fromfile(config)
    else:
        cfg = config_from_checkpoint(checkpoint)
    means, counts, canvas = mean_images_on_canvas(cfg, data_root)
    rows = template_correlations(templates, means, counts)
    finite = [row['r'] for row in rows.values() if np.isfinite(row['r'])]
    report = dict(
        checkpoint=checkpoint,
        config=config or 'stored in the checkpoint',
        data_root=data_root or training_dataset_cfg(cfg).get('data_root'),
        key=key,
        canvas=list(canvas),
        modalities=rows,
        mean_r=float(np.mean(finite)) if finite else float('nan'),
        min_r=float(np.min(finite)) if finite else float('nan'))
    if return_arrays:
        return report, templates, means
    return report


def format_report(report: dict) -> str:
    """A plain-text table of :func:`template_report`'s result."""
    lines = [f'{"modality":<9} {"r":>7} {"studies":>8} {"voxels":>8}  '
             'template raw range']
    for name, row in report['modalities'].items():
        low, high = row['template_range']
        lines.append(f'{name:<9} {row["r"]:>7.3f} {row["studies"]:>8d} '
                     f'{row["voxels"]:>8d}  [{low:.3g}, {high:.3g}]')
    lines.append(f'{"mean":<9} {report["mean_r"]:>7.3f}')
    return '\n'.join(lines)


def report_to_json(report: dict) -> dict:
    """:func:`template_report`'s result with NaN (a constant, never trained
    template) as None, for strict JSON."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, float) and not np.isfinite(value):
            return None
        return value
    return clean(report)


def save_template_montage(templates: torch.Tensor,
                          means: Dict[str, np.ndarray],
                          path: str,
                          report: Optional[dict] = None,
                          vocabulary: Sequence[str] = MRI_MODALITIES,
                          dpi: int = 80) -> str:
    """PNG: per modality (rows), the normalised template next to the mean
    training image, axial / coronal / sagittal through the brain's centre
    (an 8-bit grey PNG).

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from PIL import Image
    names = [n for n in vocabulary if n in means]
    values = templates.detach().double().cpu().numpy()
    fig, axes = plt.subplots(
        max(len(names), 1), 6, figsize=(12, 2.2 * max(len(names), 1)),
        squeeze=False)
    views = ((2, 'axial'), (1, 'coronal'), (0, 'sagittal'))
    for row, name in enumerate(names):
        template = normalise_template(values[list(vocabulary).index(name)])
        mean = means[name]
        mask = mean != 0
        centre = [int(np.round(np.mean(np.nonzero(mask)[a])))
                  if mask.any() else s // 2
                  for a, s in enumerate(mean.shape)]
        high = float(mean.max()) or 1.0
        for col, (axis, view) in enumerate(views):
            for k, (image, vmax, what) in enumerate(
                    ((template, 1.0, 'template'), (mean, high, 'mean'))):
                ax = axes[row][2 * col + k]
                plane = np.take(image, centre[axis], axis=axis)
                ax.imshow(np.rot90(plane), cmap='gray', vmin=0, vmax=vmax)
                ax.set_xticks([])
                ax.set_yticks([])
                title = f'{name} {what} ({view})'
                if k == 0 and col == 0 and report is not None:
                    title += f'\nr = {report["modalities"][name]["r"]:.2f}'
                ax.set_title(title, fontsize=8)
    title = 'BrainMVP templates (normalised) vs mean training image'
    if report is not None:
        title += f': {osp.basename(str(report["checkpoint"]))}'
    fig.suptitle(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi, bbox_inches='tight')
    plt.close(fig)
    buf.seek(0)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    Image.open(buf).convert('L').save(path, optimize=True)
    return path
