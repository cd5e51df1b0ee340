"""The configs of the label-efficiency benchmark's jobs, derived from the
project's configs: the data folder, workers and batch of every loader, the
pre-training epochs, and the fine-tuning split, checkpoint, iterations,
schedule and seed."""
import os.path as osp
from typing import List, Optional

from mmengine.config import Config

from ..datasets.splits import fraction_tag

__all__ = [
    'load_cfg', 'set_loader', 'iter_schedule', 'epoch_schedule',
    'pretrain_cfg', 'finetune_cfg', 'has_templates'
]


def load_cfg(path: str, root: str) -> Config:
    """Read a config named relative to the repository root.

    Args:
        path (str): Config path relative to ``root`` (or absolute).
        root (str): The repository root.

    Returns:
        Config: The config.
    """
    return Config.fromfile(osp.join(root, path))


def set_loader(cfg: Config, loader: str, data: str,
               workers: Optional[int], batch: Optional[int] = None) -> None:
    """Point a data loader of ``cfg`` at ``data``, in place.

    A loader the config lacks is left alone. A ``RepeatDataset`` is looked
    through; with ``workers`` given, workers are not kept between passes
    (one pass per loader and run).

    Args:
        cfg (Config): The config.
        loader (str): ``train_dataloader``, ``val_dataloader`` or
            ``test_dataloader``.
        data (str): The dataset folder (``data_root``).
        workers (int, optional): Data-loader workers; None keeps the
            config's (and its ``persistent_workers``).
        batch (int, optional): Batch size; None keeps the config's.

    Raises:
        ValueError: A semi-supervised dataset (not supported here).
    """
    loader_cfg = cfg.get(loader)
    if loader_cfg is None:
        return
    ds = loader_cfg.dataset
    inner = ds.dataset if ds.get('type') == 'RepeatDataset' else ds
    if inner.get('type') == 'SemiSupervisedDataset':
        raise ValueError('label_efficiency: semi-supervised configs are not '
                         'supported here')
    inner.data_root = data
    if workers is not None:
        loader_cfg.num_workers = workers
        loader_cfg.persistent_workers = False  # one pass per loader and run
    if batch is not None:
        loader_cfg.batch_size = batch


def iter_schedule(iters: int) -> List[dict]:
    """A linear warm-up over a tenth of ``iters`` (at least one), then a
    cosine decay to 1e-6, both by iteration.

    Args:
        iters (int): Training iterations.

    Returns:
        list[dict]: ``param_scheduler`` entries.
    """
    warm = max(1, iters // 10)
    return [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=warm),
        dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False,
             begin=warm, end=iters),
    ]


def epoch_schedule(cfg: Config, epochs: int) -> None:
    """Stretch / cut the config's epoch schedule to ``epochs``, in place.

    A scheduler ending after ``epochs``, and every cosine / poly scheduler,
    ends at ``epochs``; one beginning at or after ``epochs`` begins at
    ``epochs - 1``; ``T_max`` is dropped (mmengine derives it). A scheduler
    counted in iterations (``by_epoch=False``, e.g. an iteration warm-up) is
    left alone: its bounds are no epochs. A
    ``param_scheduler`` given per optimizer wrapper (a dict of lists, as
    MICS' ``generator`` / ``discriminator``) has each list edited.

    Args:
        cfg (Config): The config, with ``param_scheduler``.
        epochs (int): Training epochs.
    """
    scheds = cfg.param_scheduler
    if isinstance(scheds, dict) and 'type' not in scheds:
        scheds = [s for part in scheds.values() for s in part]
    elif isinstance(scheds, dict):
        scheds = [scheds]
    for sched in scheds:
        if not sched.get('by_epoch', True):
            continue  # bounds in iterations
        if sched.get('end', 0) > epochs or sched.get('type') in (
                'CosineAnnealingLR', 'PolyLR'):
            sched['end'] = epochs
        if sched.get('begin', 0) >= epochs:
            sched['begin'] = max(0, epochs - 1)
        sched.pop('T_max', None)


def pretrain_cfg(path: str, data: str, *, task: str, epochs: Optional[int],
                 batch: Optional[int], workers: Optional[int],
                 root: str) -> Config:
    """The pre-training job of a method: its config on ``data`` for
    ``epochs`` epochs of ``batch`` samples, keeping the last checkpoint
    (``epoch_<epochs>.pth``, plain content: loadable with
    ``weights_only=True``).

    Args:
        path (str): Pre-training config, relative to ``root``.
        data (str): The dataset folder.
        task (str): ``kvasir`` (trains on ``splits/train.json``) or
            ``brain-seg``.
        epochs (int, optional): Pre-training epochs; None keeps the
            config's epochs and schedule (``--scale paper``).
        batch (int, optional): Batch size (per GPU); None keeps the
            config's.
        workers (int, optional): Data-loader workers; None keeps the
            config's.
        root (str): The repository root.

    Returns:
        Config: The job's config (seed 0).

    Raises:
        ValueError: The config is not epoch-based.
    """
    cfg = load_cfg(path, root)
    set_loader(cfg, 'train_dataloader', data, workers, batch)
    if task == 'kvasir':
        cfg.train_dataloader.dataset.ann_file = 'splits/train.json'
    if cfg.train_cfg.get('type') != 'EpochBasedTrainLoop':
        raise ValueError(f'{path}: pre-training configs must be epoch-based')
    if epochs is None:
        epochs = cfg.train_cfg.max_epochs
    else:
        cfg.train_cfg.max_epochs = epochs
        epoch_schedule(cfg, epochs)
    # SafeCheckpointHook: the fine-tuning jobs read the encoder with
    # weights_only=True, which refuses CheckpointHook's pickled message hub
    cfg.default_hooks.checkpoint = dict(
        type='SafeCheckpointHook', interval=epochs, max_keep_ckpts=1)
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'BrainMVPScheduleHook':
            # the release's phases (300 / 1000 of 1500 epochs) scaled
            hook['cmr_start'] = epochs // 5
            hook['cl_start'] = max(1, (2 * epochs) // 3)
    cfg.randomness = dict(seed=0, deterministic=False)
    return cfg


def finetune_cfg(path: str, data: str, *, task: str,
                 checkpoint: Optional[str], fraction: float, seed: int,
                 iters: Optional[int], batch: Optional[int],
                 workers: Optional[int], root: str,
                 train_ann: Optional[str] = None) -> Config:
    """A fine-tuning job: ``iters`` iterations of ``batch`` samples on a
    labelled fraction, from a pre-trained encoder or from scratch, then a
    test on the test split. No validation, no checkpoints.

    Args:
        path (str): Fine-tuning config, relative to ``root``.
        data (str): The dataset folder.
        task (str): ``kvasir`` (the labelled subset
            ``splits/train_labeled_{p}pct.json``) or ``brain-seg`` (the
            manifest ``train_ann``; BrainMVP templates come along when the
            checkpoint has them).
        checkpoint (str, optional): Pre-training checkpoint; None trains
            from scratch.
        fraction (float): Labelled fraction in (0, 1].
        seed (int): Random seed.
        iters (int, optional): Training iterations, with a warm-up over
            a tenth of them and a cosine (:func:`iter_schedule`); None
            keeps an iteration-based config's iterations and schedule
            (``--scale paper``).
        batch (int, optional): Training batch size (per GPU); None keeps
            the config's.
        workers (int, optional): Data-loader workers; None keeps the
            config's.
        root (str): The repository root.
        train_ann (str, optional): Labelled-subject manifest
            (``brain-seg``).

    Returns:
        Config: The job's config.

    Raises:
        ValueError: ``iters`` is None and the config is epoch-based.
    """
    cfg = load_cfg(path, root)
    keep_schedule = iters is None
    if keep_schedule:
        if cfg.train_cfg.get('type') != 'IterBasedTrainLoop':
            raise ValueError(f'{path}: an epoch-based fine-tuning config '
                             'needs its iterations (--finetune-iters)')
        iters = cfg.train_cfg.max_iters
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        set_loader(cfg, loader, data, workers,
                   batch if loader == 'train_dataloader' else None)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    if task == 'kvasir':
        cfg.train_dataloader.dataset.ann_file = (
            f'splits/train_labeled_{fraction_tag(100 * fraction)}pct.json')
        cfg.train_dataloader.sampler = dict(
            type='SeededInfiniteSampler', _scope_='mics_mm', shuffle=True)
        cfg.model.pretrained = checkpoint
        cfg.custom_hooks = [
            h for h in cfg.get('custom_hooks', [])
            if h.get('type') != 'RandomStateHook'
        ]
    else:
        cfg.train_dataloader.dataset.ann_file = train_ann
        if checkpoint:
            # a BrainMVP encoder saw one modality per view: its 1-channel
            # input kernels are inflated to the 4 segmentation channels
            cfg.model.backbone.init_cfg = dict(
                type='InflatedPretrained', _scope_='mics_mm',
                checkpoint=checkpoint, prefix='backbone.')
        else:
            cfg.model.backbone.init_cfg = None
        templates = checkpoint if checkpoint and has_templates(
            checkpoint) else None
        cfg.model.data_preprocessor.templates = templates
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    if not keep_schedule:
        cfg.param_scheduler = iter_schedule(iters)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=max(1, iters // 5),
        log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def has_templates(checkpoint: str) -> bool:
    """Whether a checkpoint holds BrainMVP's modality templates.

    Args:
        checkpoint (str): Checkpoint path (read with ``weights_only``).

    Returns:
        bool: ``templates.templates`` is in its state dict.
    """
    from ..utils.checkpoint_io import read_checkpoint
    state = read_checkpoint(checkpoint)
    return 'templates.templates' in state.get('state_dict', state)
