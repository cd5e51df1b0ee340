"""Classification metrics for MICS: accuracy, macro P/R/F1, ROC AUC."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement
from mics_mm.registry import METRICS

__all__ = ['ClsReportMetric', 'binary_roc_auc']


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``; tied values share their average rank."""
    order = np.argsort(values, kind='mergesort')
    sorted_vals = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    i = 0
    n = len(values)
    while i < n:
        j = i
        while j + 1 < n and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def binary_roc_auc(scores: np.ndarray, positive: np.ndarray) -> Optional[float]:
    """ROC AUC by the rank (Mann-Whitney U) formula.

    ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` where ``R_pos``
    is the sum of the (average, for ties) ranks of the positive samples. A
    tied positive/negative pair counts one half.

    Args:
        scores (np.ndarray): Scores, shape (N,).
        positive (np.ndarray): Boolean mask of positive samples, shape (N,).

    Returns:
        float or None: The AUC, or None when there are no positives or no
        negatives.
    """
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = int(len(positive) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


@METRICS.register_module()
class ClsReportMetric(BaseMetric):
    """Single-label classification metrics with per-class detail.

    ``compute_metrics`` returns (all rates are fractions in [0, 1], not
    percentages, and all values are plain Python numbers, JSON-serialisable):

    - ``accuracy``;
    - ``precision_macro``, ``recall_macro``, ``f1_macro``: unweighted means
      over all ``num_classes`` classes. The precision of a class that is
      never predicted is 0 (as sklearn's ``zero_division=0``); likewise its
      F1 is 0 when precision + recall is 0;
    - ``auc_macro``: one-vs-rest ROC AUC (rank / Mann-Whitney formula, ties
      by average ranks) averaged over the classes that have both positive
      and negative samples; the excluded classes are listed in
      ``auc_undefined_classes`` (None if all are undefined);
    - ``precision_per_class``, ``recall_per_class``, ``f1_per_class``,
      ``auc_per_class`` (None where undefined), ``support_per_class``;
    - ``confusion_matrix``: list of lists, rows = true class, columns =
      predicted class;
    - ``classes``: class names from ``classes`` or
      ``dataset_meta['classes']`` (None if neither is known).

    Predictions are the arg-max of ``pred_score``. If a sample only carries
    ``pred_label``, the AUC entries are None.

    Args:
        num_classes (int, optional): Number of classes. If None, taken from
            the class names, else from the width of ``pred_score``.
            Defaults to None.
        classes (Sequence[str], optional): Class names. Defaults to None.
        collect_device (str): Device used to gather results across ranks.
            Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names (``prefix/key``).
            Defaults to None (no prefix).
    """

    # Empty: keys are unprefixed (``accuracy``, ``confusion_matrix``...)
    # unless ``prefix`` is given, e.g. ``prefix='test'`` -> ``test/accuracy``.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 num_classes: Optional[int] = None,
                 classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.classes = list(classes) if classes is not None else None
        if (num_classes is not None and self.classes is not None
                and len(self.classes) != num_classes):
            raise ValueError(f'{len(self.classes)} class names given for '
                             f'num_classes={num_classes}.')

    @staticmethod
    def _to_numpy(value) -> np.ndarray:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            if value.is_floating_point():
                # autocast scores (test_cfg.fp16=True): bf16 on a CPU,
                # which numpy cannot hold
                value = value.float()
            return value.numpy()
        return np.asarray(value)

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Store the scores and labels of one batch.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples (Sequence[dict | DataSample]): Model outputs; the
                evaluator passes ``DataSample.to_dict()`` dicts holding
                ``pred_score`` (K,) (or ``pred_label``) and ``gt_label``.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            result = dict(
                gt_label=int(self._to_numpy(sample['gt_label']).reshape(-1)[0]))
            if 'pred_score' in sample:
                result['pred_score'] = self._to_numpy(
                    sample['pred_score']).astype(np.float64).reshape(-1)
            else:
                result['pred_label'] = int(
                    self._to_numpy(sample['pred_label']).reshape(-1)[0])
            self.results.append(result)

    def _class_names(self) -> Optional[List[str]]:
        if self.classes is not None:
            return list(self.classes)
        if self.dataset_meta and self.dataset_meta.get('classes'):
            return list(self.dataset_meta['classes'])
        return None

    def compute_metrics(self, results: List[dict]) -> Dict:
        """Compute the metrics from all stored results.

        Args:
            results (list[dict]): Outputs of :meth:`process`.

        Returns:
            dict: The metrics described in the class docstring.
        """
        classes = self._class_names()
        gt = np.array([r['gt_label'] for r in results], dtype=np.int64)
        has_scores = all('pred_score' in r for r in results)
        scores = None
        if has_scores:
            scores = np.stack([r['pred_score'] for r in results])
            pred = scores.argmax(axis=1)
        else:
            pred = np.array([
                r['pred_score'].argmax() if 'pred_score' in r else
                r['pred_label'] for r in results
            ], dtype=np.int64)

        k = self.num_classes
        if k is None:
            if classes is not None:
                k = len(classes)
            elif scores is not None:
                k = scores.shape[1]
            else:
                k = int(max(gt.max(), pred.max())) + 1

        cm = np.zeros((k, k), dtype=np.int64)
        np.add.at(cm, (gt, pred), 1)
        tp = np.diag(cm).astype(np.float64)
        support = cm.sum(axis=1)
        predicted = cm.sum(axis=0)
        precision = np.divide(
            tp, predicted, out=np.zeros(k), where=predicted > 0)
        recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
        denom = precision + recall
        f1 = np.divide(
            2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)

        auc: List[Optional[float]] = [None] * k
        if scores is not None:
            auc = [binary_roc_auc(scores[:, c], gt == c) for c in range(k)]
        defined = [a for a in auc if a is not None]
        undefined = [c for c, a in enumerate(auc) if a is None]

        return dict(
            accuracy=float((pred == gt).mean()) if len(gt) else 0.0,
            precision_macro=float(precision.mean()),
            recall_macro=float(recall.mean()),
            f1_macro=float(f1.mean()),
            auc_macro=float(np.mean(defined)) if defined else None,
            auc_undefined_classes=undefined,
            precision_per_class=[float(v) for v in precision],
            recall_per_class=[float(v) for v in recall],
            f1_per_class=[float(v) for v in f1],
            auc_per_class=auc,
            support_per_class=[int(v) for v in support],
            confusion_matrix=cm.tolist(),
            classes=classes,
        )
