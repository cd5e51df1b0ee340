"""Weighted kNN accuracy of the encoder during pre-training."""
import copy
from functools import partial
from typing import Optional

import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader

from mics_mm.evaluation.knn import extract_knn_features, knn_accuracy
from mics_mm.registry import DATASETS, HOOKS


def build_eval_loader(cfg: dict) -> DataLoader:
    """A sequential, unsharded loader from a dataloader config dict.

    Only ``dataset``, ``batch_size``, ``num_workers`` and ``collate_fn`` are
    used; the sampler is always sequential over the whole dataset (no
    shuffling, no sharding over ranks), whatever ``sampler`` says.

    Args:
        cfg (dict): ``dict(dataset=..., batch_size=..., num_workers=...,
            collate_fn=...)``; ``dataset`` may be a built dataset.

    Returns:
        DataLoader: The loader.
    """
    cfg = copy.deepcopy(dict(cfg))
    dataset = cfg['dataset']
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
    collate = cfg.get('collate_fn') or dict(type='pseudo_collate')
    collate = dict(collate)
    kind = collate.pop('type')
    fn = FUNCTIONS.get(kind) if isinstance(kind, str) else kind
    if fn is None:
        raise KeyError(f'KNNMonitorHook: collate_fn {kind!r} not found.')
    return DataLoader(
        dataset,
        batch_size=cfg.get('batch_size', 32),
        shuffle=False,
        num_workers=cfg.get('num_workers', 0),
        collate_fn=partial(fn, **collate) if collate else fn)


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Log the weighted kNN top-1 accuracy of the encoder every few epochs.

    The self-supervised monitor of InstDisc / DINO (docs: ``knn_classify``
    in :mod:`mics_mm.evaluation.knn`): after every ``interval``-th training
    epoch (and the last), the pooled last-stage backbone feature of every
    sample of ``train_dataloader`` (labelled, the memory bank) and
    ``val_dataloader`` (queried) is computed with the model in eval mode and
    no gradients, the val samples are classified by their ``k`` nearest
    training samples (cosine, votes ``exp(sim / temperature)``) and the
    accuracy in ``[0, 1]`` is logged as ``knn/top1`` (message hub and
    visualizer). The model's train / eval state is restored afterwards.

    Use a deterministic (resize-only) pipeline for both loaders, e.g.
    ``mics_mm.apis.resize_pipeline(img_size)``, and labelled splits
    (``splits/train.json`` and ``splits/val.json`` of the Kvasir layout).

    Distributed runs: only rank 0 extracts features and computes the
    accuracy, over the whole of both datasets (sequential loaders, not
    sharded); the other ranks wait at a barrier and receive the value by a
    broadcast, so every rank logs the same number. The encoder is run
    unwrapped (no DDP forward), in eval mode, so SyncBN uses its running
    statistics and needs no other rank.

    Note: BatchNorm running statistics of MICS's ResNet encoder come from
    masked images unless ``PreciseBNHook`` ran (docs/methods.md, "MICS
    decision 18"); the kNN value uses whatever statistics the model has.

    Args:
        train_dataloader (dict): Loader config of the labelled memory bank:
            ``dataset`` (config or built dataset), ``batch_size`` (32),
            ``num_workers`` (0), ``collate_fn`` (``pseudo_collate``); any
            ``sampler`` is ignored.
        val_dataloader (dict): Loader config of the queried split (same
            keys).
        interval (int): Run after every ``interval`` epochs (and after the
            last). Defaults to 1.
        k (int): Neighbours. Defaults to 20 (capped at the memory bank's
            size, with a warning).
        temperature (float): Vote temperature. Defaults to 0.07.
        modality (str, optional): Modality whose feature is used (``'wli'``,
            ``'nbi'``) or ``'concat'`` for all modalities concatenated; None:
            the first modality of the batch. Defaults to None.
        prefix (str): Logged name is ``f'{prefix}/top1'``. Defaults to
            'knn'.
    """

    priority = 'LOW'

    def __init__(self,
                 train_dataloader: dict,
                 val_dataloader: dict,
                 interval: int = 1,
                 k: int = 20,
                 temperature: float = 0.07,
                 modality: Optional[str] = None,
                 prefix: str = 'knn') -> None:
        if interval < 1:
            raise ValueError(
                f'KNNMonitorHook: interval must be >= 1, got {interval}.')
        if k < 1 or not temperature > 0:
            raise ValueError('KNNMonitorHook: need k >= 1 and temperature > '
                             f'0, got k={k}, temperature={temperature}.')
        self.train_dataloader = train_dataloader
        self.val_dataloader = val_dataloader
        self.interval = interval
        self.k = k
        self.temperature = temperature
        self.modality = modality
        self.prefix = prefix
        self._loaders = None

    def _build_loaders(self):
        if self._loaders is None:
            self._loaders = (build_eval_loader(self.train_dataloader),
                             build_eval_loader(self.val_dataloader))
        return self._loaders

    def after_train_epoch(self, runner) -> None:
        if not (self.every_n_epochs(runner, self.interval)
                or self.is_last_train_epoch(runner)):
            return
        self.evaluate(runner)

    def compute(self, model: torch.nn.Module, logger=None) -> float:
        """kNN top-1 of ``model`` (unwrapped) on the hook's loaders."""
        train_loader, val_loader = self._build_loaders()
        was_training = model.training
        model.eval()
        try:
            bank, bank_labels = extract_knn_features(model, train_loader,
                                                     self.modality)
            query, query_labels = extract_knn_features(model, val_loader,
                                                       self.modality)
        finally:
            model.train(was_training)
        k = self.k
        if k > len(bank):
            if logger is not None:
                logger.warning(f'KNNMonitorHook: k={k} > {len(bank)} '
                               f'training samples; using k={len(bank)}.')
            k = len(bank)
        metainfo = getattr(train_loader.dataset, 'metainfo', {}) or {}
        classes = metainfo.get('classes')
        num_classes = len(classes) if classes else None
        return knn_accuracy(bank, bank_labels, query, query_labels, k=k,
                            temperature=self.temperature,
                            num_classes=num_classes)

    def evaluate(self, runner) -> float:
        """Compute on rank 0, broadcast, log ``<prefix>/top1``; returns it."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        value = [None]
        if dist.get_rank() == 0:
            value[0] = self.compute(model, getattr(runner, 'logger', None))
        if dist.get_world_size() > 1:
            dist.broadcast_object_list(value, src=0)
        top1 = float(value[0])
        name = f'{self.prefix}/top1'
        runner.message_hub.update_scalar(name, top1)
        runner.visualizer.add_scalars({name: top1}, step=runner.epoch)
        if getattr(runner, 'logger', None) is not None:
            runner.logger.info(
                f'KNNMonitorHook: epoch {runner.epoch} {name} = {top1:.4f} '
                f'(k={self.k}, T={self.temperature}, '
                f'modality={self.modality or "first"})')
        return top1
