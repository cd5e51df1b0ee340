"""Per-case Dice and HD95 of 3D segmentations: BraTS regions or classes."""
import csv
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mics_mm.registry import METRICS

from .brats_scoring import (BRATS_REGIONS, EMPTY_HD95, dice_score,
                            hd95_distance, log_scores, score_case)

__all__ = ['BraTSMetric']


def _array(value) -> np.ndarray:
    if isinstance(value, dict):  # a PixelData-like field
        value = value['data']
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value).squeeze()


@METRICS.register_module()
class BraTSMetric(BaseMetric):
    """Dice and HD95 per case, then means and medians over the cases.

    Each data sample holds a whole-volume label map ``pred_seg`` (from
    ``BrainMVPSegmentor3D.predict``) and the truth ``gt_seg``. Two modes
    (docs/methods.md, "BrainMVP: downstream"):

    - **regions** (``regions='2021'`` / ``'2023'`` or a mapping region ->
      labels): BraTS's nested regions WT, TC, ET scored by
      :func:`~mics_mm.evaluation.brats_scoring.score_case`;
    - **classes** (``regions=None``): each class not in ``ignore_classes``
      (default: the background, 0) scored as a mask ``label == class``,
      named by ``classes`` or the dataset's ``metainfo['classes']``.

    Both follow the BraTS rules of ``brats_scoring``: a mask empty in truth
    and prediction has Dice 1 and HD95 0; empty in exactly one, Dice 0 and
    HD95 ``empty_value``. HD95 is in the units of ``spacing`` (the sample's
    ``spacing`` metainfo when present). Nothing is dropped.

    Metrics: ``Dice.<name>`` / ``HD95.<name>`` (mean over cases),
    ``Dice.<name>.median`` / ``HD95.<name>.median``, ``mDice`` / ``mHD95``
    (mean of the per-name means) and ``num_cases``. With ``out_file``
    the per-case table is also written as CSV.

    Args:
        regions (str | Mapping | None): BraTS edition, a mapping or None
            (class-wise). Defaults to ``'2021'``.
        classes (Sequence[str], optional): Class names (class-wise mode);
            defaults to the dataset's. Defaults to None.
        ignore_classes (Sequence[int]): Classes not scored (class-wise).
            Defaults to ``(0, )``.
        spacing (Sequence[float]): Voxel size (mm). Defaults to 1 mm.
        empty_value (float): HD95 when exactly one mask is empty. Defaults
            to :data:`~mics_mm.evaluation.brats_scoring.EMPTY_HD95`.
        out_file (str, optional): Per-case CSV to write. Defaults to None.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 regions: Union[str, Mapping[str, Sequence[int]],
                                None] = '2021',
                 classes: Optional[Sequence[str]] = None,
                 ignore_classes: Sequence[int] = (0, ),
                 spacing: Sequence[float] = (1., 1., 1.),
                 empty_value: float = EMPTY_HD95,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(regions, int):  # 2021 from --cfg-options
            regions = str(regions)
        if isinstance(regions, str):
            if regions not in BRATS_REGIONS:
                raise ValueError(
                    f'BraTSMetric: unknown BraTS edition {regions!r}; use '
                    f'one of {sorted(BRATS_REGIONS)}, a mapping or None.')
            regions = BRATS_REGIONS[regions]
        self.regions = None if regions is None else {
            str(k): tuple(int(i) for i in v)
            for k, v in regions.items()
        }
        self.classes = tuple(classes) if classes else None
        self.ignore_classes = tuple(int(c) for c in ignore_classes)
        self.spacing = tuple(float(s) for s in spacing)
        self.empty_value = float(empty_value)
        self.out_file = out_file

    def _class_names(self) -> List[str]:
        classes = self.classes or (self.dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError('BraTSMetric: class-wise scoring needs class '
                             'names: set classes=[...] or the dataset\'s '
                             'metainfo=dict(classes=[...]).')
        return list(classes)

    def score(self, pred: np.ndarray, truth: np.ndarray,
              spacing: Sequence[float]) -> Dict[str, float]:
        """Dice and HD95 of every region / class of one case."""
        if pred.shape != truth.shape:
            raise ValueError(f'BraTSMetric: prediction {pred.shape} and '
                             f'truth {truth.shape} differ in shape.')
        if self.regions is not None:
            return score_case(pred, truth, self.regions, spacing,
                              self.empty_value)
        out = {}
        for index, name in enumerate(self._class_names()):
            if index in self.ignore_classes:
                continue
            p, t = pred == index, truth == index
            out[f'Dice.{name}'] = dice_score(p, t)
            out[f'HD95.{name}'] = hd95_distance(p, t, spacing,
                                                self.empty_value)
        return out

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score each case of a batch."""
        for sample in data_samples:
            if 'pred_seg' not in sample or 'gt_seg' not in sample:
                raise KeyError('BraTSMetric: a sample lacks pred_seg or '
                               'gt_seg (BrainMVPSegmentor3D predictions of '
                               'studies with a label file).')
            spacing = sample.get('spacing', self.spacing)
            scores = self.score(
                _array(sample['pred_seg']), _array(sample['gt_seg']),
                spacing)
            case = sample.get('case', sample.get('img_path'))
            self.results.append(dict(case=str(case), scores=scores))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Means and medians over the cases."""
        names = list(results[0]['scores'])
        table = np.array([[r['scores'][k] for k in names] for r in results],
                         dtype=np.float64)
        metrics = OrderedDict()
        for kind in ('Dice', 'HD95'):
            cols = [i for i, k in enumerate(names) if k.startswith(kind)]
            means = table[:, cols].mean(axis=0)
            metrics[f'm{kind}'] = float(means.mean())
            for i, mean in zip(cols, means):
                metrics[names[i]] = float(mean)
                metrics[f'{names[i]}.median'] = float(np.median(table[:, i]))
        metrics['num_cases'] = len(results)
        if self.out_file:
            self._write(results, names)
        log_scores('BraTSMetric', len(results), metrics)
        return metrics

    def _write(self, results: List[dict], names: List[str]) -> None:
        folder = osp.dirname(osp.abspath(self.out_file))
        os.makedirs(folder, exist_ok=True)
        with open(self.out_file, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['case'] + names)
            for r in results:
                writer.writerow([r['case']] +
                                [f'{r["scores"][k]:.6f}' for k in names])
