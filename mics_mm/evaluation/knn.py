"""Weighted k-nearest-neighbour evaluation of frozen encoder features.

The protocol of InstDisc (Wu et al., 2018) and DINO (Caron et al., 2021)
for self-supervised encoders: features are L2-normalised, each test sample
takes the ``k`` training samples of highest cosine similarity, each
neighbour votes for its label with weight ``exp(sim / temperature)``, and
the class of largest summed weight wins. Defaults ``k=20`` and
``temperature=0.07`` as in both papers.

Ties (documented, tested):

- *Between classes*: equal summed weights go to the lowest class index
  (``torch.argmax`` returns the first maximum).
- *Between neighbours*: when the ``k``-th and ``(k+1)``-th similarities are
  equal, which training sample is taken is up to ``torch.topk``; such ties
  need exactly equal features and do not occur with real encoders.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from mics_mm.models.data_preprocessor import PerModalityDataPreprocessor
from mics_mm.models.utils import global_feature

__all__ = ['knn_classify', 'knn_accuracy', 'extract_knn_features']

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def _as_tensor(x: ArrayLike, name: str, dim: int) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dim() != dim:
        raise ValueError(f'knn: {name} must be {dim}-D, got shape '
                         f'{tuple(t.shape)}.')
    return t


def knn_classify(train_feats: ArrayLike,
                 train_labels: ArrayLike,
                 test_feats: ArrayLike,
                 k: int = 20,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 chunk_size: int = 1024) -> torch.Tensor:
    """Predict the class of every test feature by weighted kNN voting.

    Args:
        train_feats (Tensor | ndarray): ``(N, C)`` training features.
        train_labels (Tensor | ndarray | list[int]): ``(N,)`` labels in
            ``[0, num_classes)``.
        test_feats (Tensor | ndarray): ``(M, C)`` test features.
        k (int): Neighbours per test sample. Defaults to 20.
        temperature (float): Vote weight ``exp(cos / temperature)``.
            Defaults to 0.07.
        num_classes (int, optional): Number of classes; None: ``max label +
            1``. Defaults to None.
        chunk_size (int): Test samples per similarity block (memory is
            ``chunk_size x N``). Defaults to 1024.

    Returns:
        Tensor: ``(M,)`` int64 predicted labels (on the features' device).

    Raises:
        ValueError: Bad shapes, ``k`` not in ``[1, N]``, a non-positive
            temperature or chunk size, or labels out of range.
    """
    train = _as_tensor(train_feats, 'train_feats', 2)
    test = _as_tensor(test_feats, 'test_feats', 2)
    labels = _as_tensor(train_labels, 'train_labels', 1).long()
    if train.size(0) != labels.size(0):
        raise ValueError(f'knn: {train.size(0)} training features but '
                         f'{labels.size(0)} labels.')
    if train.size(1) != test.size(1):
        raise ValueError(f'knn: training features have {train.size(1)} '
                         f'channels, test features {test.size(1)}.')
    n = train.size(0)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f'knn: k must be a positive int, got {k!r}.')
    if k > n:
        raise ValueError(f'knn: k={k} is larger than the training set '
                         f'({n} samples); use k <= {n}.')
    if not temperature > 0:
        raise ValueError(f'knn: temperature must be > 0, got {temperature}.')
    if chunk_size < 1:
        raise ValueError(f'knn: chunk_size must be >= 1, got {chunk_size}.')
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'knn: labels must be in [0, {num_classes}), got '
                         f'[{int(labels.min())}, {int(labels.max())}].')
    dtype = torch.promote_types(train.dtype, torch.float32)
    train = F.normalize(train.to(dtype), dim=1)
    test = F.normalize(test.to(device=train.device, dtype=dtype), dim=1)
    labels = labels.to(train.device)
    preds: List[torch.Tensor] = []
    for start in range(0, test.size(0), chunk_size):
        sim = test[start:start + chunk_size] @ train.T  # (m, N)
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(sim.size(0), num_classes, dtype=dtype,
                            device=sim.device)
        votes.scatter_add_(1, labels[top_idx], weights)
        preds.append(votes.argmax(dim=1))
    if not preds:
        return torch.zeros(0, dtype=torch.long, device=train.device)
    return torch.cat(preds)


def knn_accuracy(train_feats: ArrayLike,
                 train_labels: ArrayLike,
                 test_feats: ArrayLike,
                 test_labels: ArrayLike,
                 k: int = 20,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 chunk_size: int = 1024) -> float:
    """Top-1 accuracy in ``[0, 1]`` of :func:`knn_classify`.

    Args:
        test_labels (Tensor | ndarray | list[int]): ``(M,)`` true labels.
        Others: as :func:`knn_classify`.

    Returns:
        float: Fraction of test samples predicted right.

    Raises:
        ValueError: As :func:`knn_classify`; no test samples; labels and
            features disagree in number.
    """
    truth = _as_tensor(test_labels, 'test_labels', 1).long()
    n_test = len(test_feats)
    if truth.numel() != n_test:
        raise ValueError(f'knn: {n_test} test features but '
                         f'{truth.numel()} test labels.')
    if n_test == 0:
        raise ValueError('knn: no test samples.')
    if num_classes is None:
        labels = _as_tensor(train_labels, 'train_labels', 1)
        num_classes = int(max(int(labels.max()), int(truth.max()))) + 1
    pred = knn_classify(train_feats, train_labels, test_feats, k,
                        temperature, num_classes, chunk_size)
    return float((pred.cpu() == truth.cpu()).double().mean())


def _pooled(out) -> torch.Tensor:
    """``(N, C)`` feature of one entry of ``extract_feat``'s output."""
    if isinstance(out, (tuple, list)):
        out = out[-1]
    return global_feature(out).float()


def _one_input_feature(model: torch.nn.Module, batch: dict,
                       modality: Optional[str]) -> Tuple[torch.Tensor, list]:
    """Pooled feature of a one-input model (mmpretrain's SimCLR, MoCo v3,
    BYOL, MAE, ImageClassifier) on a multi-modal batch: each chosen
    modality's images go through the model's own data preprocessor and
    ``extract_feat`` as a batch of their own; ``'concat'`` concatenates the
    features of every modality. Returns the feature and the data samples."""
    inputs = batch['inputs']
    names = list(inputs)
    chosen = names if modality == 'concat' else [
        names[0] if modality is None else modality]
    for name in chosen:
        if name not in inputs:
            raise KeyError(f'knn: modality {name!r} not in the batch (has '
                           f"{names}); pass one of them or 'concat'.")
    from mmpretrain.models.utils import SelfSupDataPreprocessor
    views = isinstance(model.data_preprocessor, SelfSupDataPreprocessor)
    feats, samples = [], batch.get('data_samples')
    for name in chosen:
        images = inputs[name]
        if not isinstance(images, torch.Tensor):
            images = torch.stack(list(images))
        # a self-supervised preprocessor takes a list of views
        data = model.data_preprocessor(
            dict(batch, inputs=[images] if views else images), False)
        x = data['inputs']
        if isinstance(x, (list, tuple)):
            x = x[0]
        feats.append(_pooled(model.extract_feat(x)))
        samples = data['data_samples']
    return torch.cat(feats, dim=1), samples


@torch.no_grad()
def extract_knn_features(model: torch.nn.Module,
                         batches,
                         modality: Optional[str] = None
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pooled last-stage backbone features and labels of every sample.

    The caller puts the model in eval mode (and back). Each batch goes
    through ``model.data_preprocessor(batch, False)`` and
    ``model.extract_feat(inputs)``; for multi-modal models (MICS) that
    returns ``{modality: stages}`` and the last stage of ``modality`` is
    average-pooled (class token for ViTs, :func:`~mics_mm.models.utils.
    global_feature`).

    A model that takes one image per sample (mmpretrain's SimCLR, MoCo v3,
    BYOL, MAE, ``ImageClassifier``: any data preprocessor but
    ``PerModalityDataPreprocessor``) given a multi-modal batch (``inputs``
    a dict, as ``PackMultiModalInputs`` packs it) gets the images of
    ``modality`` alone, through its own preprocessor (a list of one view
    for a self-supervised one); ``'concat'`` runs it on each modality and
    concatenates the features.

    Args:
        model (nn.Module): Unwrapped model with ``data_preprocessor`` and
            ``extract_feat``.
        batches (Iterable[dict]): Collated batches (a DataLoader) whose
            data samples carry ``gt_label``.
        modality (str, optional): Modality whose feature is used; ``'concat'``
            concatenates the pooled features of every modality (in the order
            of the batch); None: the first modality. Ignored for single-
            tensor inputs. Defaults to None.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float32 features and ``(N,)``
        int64 labels, on the CPU.

    Raises:
        KeyError: ``modality`` is not in the batch.
        ValueError: A sample has no ``gt_label``.
    """
    feats: List[torch.Tensor] = []
    labels: List[int] = []
    for batch in batches:
        if isinstance(batch.get('inputs'), dict) and not isinstance(
                model.data_preprocessor, PerModalityDataPreprocessor):
            feat, samples = _one_input_feature(model, batch, modality)
            feats.append(feat.cpu())
            _append_labels(labels, samples)
            continue
        data = model.data_preprocessor(batch, False)
        out = model.extract_feat(data['inputs'])
        if isinstance(out, dict):
            names = list(out)
            if modality == 'concat':
                feat = torch.cat([_pooled(out[m]) for m in names], dim=1)
            else:
                name = names[0] if modality is None else modality
                if name not in out:
                    raise KeyError(f'knn: modality {name!r} not in the '
                                   f'batch (has {names}); pass one of them '
                                   "or 'concat'.")
                feat = _pooled(out[name])
        else:
            feat = _pooled(out)
        feats.append(feat.cpu())
        _append_labels(labels, data['data_samples'])
    if not feats:
        raise ValueError('knn: the data loader gave no batches.')
    return torch.cat(feats), torch.tensor(labels, dtype=torch.long)


def _append_labels(labels: List[int], samples) -> None:
    for sample in samples:
        if 'gt_label' not in sample:
            raise ValueError('knn: a data sample has no gt_label; kNN '
                             'needs labelled splits.')
        labels.append(int(sample.gt_label.reshape(-1)[0]))
