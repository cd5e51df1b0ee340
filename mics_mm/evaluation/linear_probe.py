"""Linear-probe accuracy of frozen features (logistic regression).

The linear evaluation on pre-extracted features of SimCLR's transfer
experiments (after Kornblith et al., 2019): an L2-regularised multinomial
logistic regression fitted with L-BFGS on the features of un-augmented
images. Here the features are standardised with the training set's mean
and standard deviation, the regression is fitted to the whole training
set by full-batch L-BFGS (deterministic: no sampling), and the test set is
classified by its argmax. (mmpretrain's linear-probe configs instead
train a linear head with SGD on augmented images; that protocol is the
``*-linear-*`` configs'.)
"""
from typing import Optional

import torch
import torch.nn.functional as F

from .knn import ArrayLike, _as_tensor

__all__ = ['fit_linear_probe', 'linear_probe_accuracy']


def fit_linear_probe(train_feats: ArrayLike,
                     train_labels: ArrayLike,
                     num_classes: Optional[int] = None,
                     weight_decay: float = 1e-4,
                     max_iter: int = 200):
    """Fit the probe; returns ``predict(feats) -> labels``.

    Args:
        train_feats (Tensor | ndarray): ``(N, C)`` features.
        train_labels (Tensor | ndarray | list[int]): ``(N,)`` labels.
        num_classes (int, optional): None: ``max label + 1``.
        weight_decay (float): L2 penalty on the weights (mean loss +
            ``weight_decay / 2 * ||W||^2``). Defaults to 1e-4.
        max_iter (int): L-BFGS iterations. Defaults to 200.

    Returns:
        Callable[[Tensor], Tensor]: Predicts ``(M,)`` int64 labels.

    Raises:
        ValueError: Bad shapes, labels out of range, a non-finite feature
            or fewer than two training samples.
    """
    x = _as_tensor(train_feats, 'train_feats', 2).double()
    y = _as_tensor(train_labels, 'train_labels', 1).long()
    if x.size(0) != y.size(0) or x.size(0) < 2:
        raise ValueError(f'linear probe: {x.size(0)} features and '
                         f'{y.size(0)} labels (need equal, >= 2).')
    if not torch.isfinite(x).all():
        raise ValueError('linear probe: the training features are not all '
                         'finite (a diverged encoder?).')
    if num_classes is None:
        num_classes = int(y.max()) + 1
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f'linear probe: labels must be in [0, '
                         f'{num_classes}).')
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    weight = torch.zeros(x.size(1), num_classes, dtype=torch.float64,
                         requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter,
                            history_size=20, tolerance_grad=1e-9,
                            tolerance_change=1e-12,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ weight + bias, y) + \
            0.5 * weight_decay * (weight * weight).sum()
        loss.backward()
        return loss

    opt.step(closure)
    weight, bias = weight.detach(), bias.detach()

    def predict(feats: ArrayLike) -> torch.Tensor:
        q = (_as_tensor(feats, 'feats', 2).double() - mean) / std
        return (q @ weight + bias).argmax(1)

    return predict


def linear_probe_accuracy(train_feats: ArrayLike,
                          train_labels: ArrayLike,
                          test_feats: ArrayLike,
                          test_labels: ArrayLike,
                          num_classes: Optional[int] = None,
                          weight_decay: float = 1e-4,
                          max_iter: int = 200) -> float:
    """Top-1 accuracy in ``[0, 1]`` of :func:`fit_linear_probe` on the test
    features. Arguments as :func:`fit_linear_probe`."""
    truth = _as_tensor(test_labels, 'test_labels', 1).long()
    if truth.numel() != len(test_feats) or truth.numel() == 0:
        raise ValueError(f'linear probe: {len(test_feats)} test features '
                         f'and {truth.numel()} labels (need equal, >= 1).')
    predict = fit_linear_probe(train_feats, train_labels, num_classes,
                               weight_decay, max_iter)
    return float((predict(test_feats) == truth).double().mean())
