"""Per-case (3D) Dice of slice-wise segmentations (mmseg evaluator)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS

__all__ = ['VolumeDiceMetric']


@METRICS.register_module()
class VolumeDiceMetric(BaseMetric):
    """Dice per case and class, from 2D predictions put back into volumes.

    mmseg's ``IoUMetric(iou_metrics=['mDice'])`` pools every pixel of the
    test set and averages over all classes, background included. Brain MRI
    segmentation is reported per case, in 3D, over the foreground classes
    (BraTS-style); this metric does that. Each slice's intersection and
    sizes per class are summed over the slices of its case
    (``case`` in the metainfo, ``BrainMRISliceDataset``), then

    - ``Dice.<class>``: mean over cases of ``2|P∩G| / (|P|+|G|)`` for that
      class (cases where the class is absent from both prediction and
      label are left out);
    - ``mDice``: mean of ``Dice.<class>`` over the classes not in
      ``ignore_classes`` (the background, index 0, by default);
    - ``mDice_pooled``: the same over pixels pooled across cases
      (comparable to mmseg's figure, without background).

    Pixels labelled ``ignore_index`` are left out. Values are in [0, 1]
    (mmseg reports percentages).

    Args:
        ignore_index (int): Label to ignore. Defaults to 255.
        ignore_classes (Sequence[int]): Classes left out of the means.
            Defaults to (0, ).
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 ignore_index: int = 255,
                 ignore_classes: Sequence[int] = (0, ),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.ignore_classes = tuple(ignore_classes)

    def _num_classes(self) -> int:
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError('VolumeDiceMetric: the dataset has no '
                             "'classes' in its metainfo; set "
                             'metainfo=dict(classes=[...]) on the dataset.')
        return len(classes)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Per-class intersection, prediction and label sizes per slice."""
        num = self._num_classes()
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze().cpu()
            label = sample['gt_sem_seg']['data'].squeeze().to(pred).cpu()
            keep = label != self.ignore_index
            pred, label = pred[keep], label[keep]
            inter = torch.bincount(pred[pred == label], minlength=num)[:num]
            self.results.append(
                dict(
                    case=sample.get('case', sample.get('img_path')),
                    inter=inter.numpy(),
                    pred=torch.bincount(pred, minlength=num)[:num].numpy(),
                    label=torch.bincount(label, minlength=num)[:num].numpy()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Dice per case and class, then the means."""
        classes = list(self.dataset_meta['classes'])
        cases: Dict[str, np.ndarray] = OrderedDict()
        for r in results:
            stats = np.stack([r['inter'], r['pred'], r['label']])
            key = str(r['case'])
            cases[key] = cases[key] + stats if key in cases else stats
        table = np.stack(list(cases.values())).astype(np.float64)
        inter, pred, label = table[:, 0], table[:, 1], table[:, 2]
        with np.errstate(invalid='ignore', divide='ignore'):
            dice = np.where(pred + label > 0, 2 * inter / (pred + label),
                            np.nan)
            pooled = 2 * inter.sum(0) / (pred.sum(0) + label.sum(0))
        fg = [c for c in range(len(classes)) if c not in self.ignore_classes]
        per_class = np.array([
            np.nanmean(dice[:, c]) if np.isfinite(dice[:, c]).any() else
            np.nan for c in range(len(classes))
        ])
        metrics = OrderedDict()
        metrics['mDice'] = float(np.nanmean(per_class[fg]))
        metrics['mDice_pooled'] = float(np.nanmean(pooled[fg]))
        for c, name in enumerate(classes):
            metrics[f'Dice.{name}'] = float(per_class[c])
        metrics['num_cases'] = len(cases)
        print_log(
            'VolumeDiceMetric over {} cases: {}'.format(
                len(cases), ', '.join(f'{k}={v:.4f}'
                                      for k, v in metrics.items()
                                      if k != 'num_cases')),
            logger='current')
        return metrics
