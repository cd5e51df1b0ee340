"""Inputs and outputs of the analysis tools that run a model on a split
(``tools/analysis/feature_pca.py``, ``tools/analysis/gradcam.py``): config
and checkpoint loading, the Kvasir-layout split as a dataset, a batch of
images spread over the classes, and PNG output of a fixed pixel size."""
import os.path as osp
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

from ..datasets import KvasirDataset
from ..utils.checkpoint_io import read_checkpoint

__all__ = [
    'DEFAULT_MODALITIES', 'DEFAULT_SPLIT', 'build_split', 'collate_batches',
    'config_data_root', 'config_img_size', 'config_modalities', 'labels_of',
    'load_analysis_config', 'load_analysis_state_dict', 'resize_pipeline',
    'save_figure', 'spread_over_classes', 'to_rgb_image'
]

DEFAULT_SPLIT = 'splits/test.json'
DEFAULT_MODALITIES = ('wli', 'nbi')


def load_analysis_config(path: str) -> Config:
    """Read a config and enter its registry scope (``default_scope``,
    ``'mics_mm'`` if unset).

    Args:
        path (str): Config file.

    Returns:
        Config: The config.

    Raises:
        SystemExit: No such file.
    """
    if not osp.isfile(path):
        raise SystemExit(f'error: config {path!r} not found.')
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mics_mm'))
    return cfg


def load_analysis_state_dict(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint (or the file itself if it is one).

    Read with ``weights_only=True`` (:func:`~mics_mm.utils.checkpoint_io.
    read_checkpoint`): a truncated or corrupt file raises
    ``CheckpointReadError`` naming it.

    Args:
        checkpoint (str): ``.pth`` file.

    Returns:
        dict[str, Tensor]: Parameter name -> tensor.

    Raises:
        SystemExit: No such file, or no state dict in it.
    """
    if not osp.isfile(checkpoint):
        raise SystemExit(
            f'error: checkpoint {checkpoint!r} not found; train one with '
            'tools/train.py CONFIG (it writes <work_dir>/epoch_N.pth).')
    ckpt = read_checkpoint(checkpoint)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise SystemExit(f'error: {checkpoint!r} holds no state dict.')
    return state


def config_modalities(cfg: Config) -> Tuple[str, ...]:
    """The model's modalities (``model.modalities``), WLI and NBI if unset.

    Args:
        cfg (Config): The config.

    Returns:
        tuple[str]: Modality names.
    """
    return tuple(cfg.model.get('modalities', None) or DEFAULT_MODALITIES)


def config_img_size(cfg: Config, default: int = 224) -> int:
    """The config's ``img_size`` variable (every mics_mm Kvasir config sets
    it).

    Args:
        cfg (Config): The config.
        default (int): Used when the config has none. Defaults to 224.

    Returns:
        int: Image side in pixels.
    """
    return int(cfg.get('img_size', default))


def config_data_root(cfg: Config) -> Optional[str]:
    """``data_root`` of the first of the test, val and train loaders that
    names one (the config's ``data_root`` variable otherwise).

    Args:
        cfg (Config): The config.

    Returns:
        str | None: The folder; None if the config names none.
    """
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        for ds in (dataset, dataset.get('labeled') or {}):
            if ds.get('data_root'):
                return ds['data_root']
    return cfg.get('data_root')


def resize_pipeline(img_size: int,
                    modalities: Sequence[str] = DEFAULT_MODALITIES) -> list:
    """The deterministic test pipeline of the fine-tuning configs: load, NBI
    simulated from WLI when no NBI image is on disk, both resized to
    ``img_size`` squared, packed.

    Args:
        img_size (int): Output side in pixels.
        modalities (Sequence[str]): Modalities of a sample. Defaults to
            ``('wli', 'nbi')``.

    Returns:
        list[dict]: Transform configs.
    """
    pipeline = [dict(type='LoadMultiModalImages')]
    if 'wli' in modalities and 'nbi' in modalities:
        pipeline.append(dict(type='SimulatedNBI', src='wli', dst='nbi'))
    pipeline += [
        dict(
            type='SharedModalityTransforms',
            transforms=[dict(type='Resize', scale=(img_size, img_size))]),
        dict(type='PackMultiModalInputs'),
    ]
    return pipeline


def build_split(data_root: Optional[str], split: str, pipeline: list,
                modalities: Sequence[str]) -> KvasirDataset:
    """A Kvasir-layout (or MICS paired) split file as a dataset.

    Args:
        data_root (str, optional): Dataset folder.
        split (str): Split file, relative to ``data_root`` unless absolute.
        pipeline (list): Transforms.
        modalities (Sequence[str]): Modalities of a sample.

    Returns:
        KvasirDataset: The dataset, in test mode.

    Raises:
        SystemExit: No data root, or no split file.
    """
    if not data_root:
        raise SystemExit('error: no data root: the config names none; give '
                         '--data-root DIR.')
    ann = split if osp.isabs(split) else osp.join(data_root, split)
    if not osp.isfile(ann):
        raise SystemExit(
            f'error: split file {ann!r} not found; write the splits with '
            f'python tools/data/make_splits.py --data-root {data_root} '
            '(or pass --data-root / --split).')
    return KvasirDataset(
        data_root=data_root,
        ann_file=split,
        modalities=tuple(modalities),
        pipeline=pipeline,
        test_mode=True)


def spread_over_classes(labels: Sequence[int],
                        num: Optional[int]) -> List[int]:
    """Up to ``num`` indices taking the classes in turn (first images of
    each class first), in index order; all indices when ``num`` is None.

    Args:
        labels (Sequence[int]): Label of every sample.
        num (int, optional): How many.

    Returns:
        list[int]: Sorted indices.
    """
    if num is None or num >= len(labels):
        return list(range(len(labels)))
    per_class: Dict[int, List[int]] = {}
    for index, label in enumerate(labels):
        per_class.setdefault(int(label), []).append(index)
    queues = [per_class[c] for c in sorted(per_class)]
    chosen: List[int] = []
    depth = 0
    while len(chosen) < num:
        for queue in queues:
            if depth < len(queue) and len(chosen) < num:
                chosen.append(queue[depth])
        depth += 1
    return sorted(chosen)


def labels_of(dataset: KvasirDataset) -> List[int]:
    """Ground-truth label of every sample of ``dataset`` (no image read).

    Args:
        dataset (KvasirDataset): The dataset.

    Returns:
        list[int]: Labels in index order.
    """
    return [
        int(dataset.get_data_info(i)['gt_label'])
        for i in range(len(dataset))
    ]


def collate_batches(dataset: KvasirDataset, indices: Sequence[int],
                    batch_size: int) -> Iterator[dict]:
    """Collated batches of ``indices``, loaded in this order.

    Args:
        dataset (KvasirDataset): The dataset.
        indices (Sequence[int]): Samples to load, in this order.
        batch_size (int): Samples per batch.

    Yields:
        dict: ``inputs`` (dict of uint8 ``(N, C, H, W)`` tensors per
        modality) and ``data_samples``.
    """
    for start in range(0, len(indices), batch_size):
        yield default_collate(
            [dataset[i] for i in indices[start:start + batch_size]])


def to_rgb_image(img: torch.Tensor) -> np.ndarray:
    """A packed image as an RGB array for display.

    Args:
        img (Tensor): ``(C, H, W)`` uint8 BGR image as packed (images are
            loaded by OpenCV; 1 or 3 channels).

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    arr = img.detach().cpu().numpy().transpose(1, 2, 0)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[..., ::-1])


def save_figure(fig, path: str, dpi: int) -> str:
    """Save a matplotlib figure as PNG at exactly ``figsize * dpi`` pixels.

    Args:
        fig (matplotlib.figure.Figure): The figure.
        path (str): Output file; parent folders are created.
        dpi (int): Dots per inch.

    Returns:
        str: The path written.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return str(path)
