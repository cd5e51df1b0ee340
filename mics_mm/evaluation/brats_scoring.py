"""BraTS scoring: per-case Dice and HD95 of the regions WT, TC and ET.

The BraTS challenges score each case on three nested tumour regions built
from the label map, not on the labels themselves:

============  ===========================  ===========================
region        BraTS 2021 labels (1, 2, 4)  BraTS 2023 labels (1, 2, 3)
============  ===========================  ===========================
WT (whole)    1 + 2 + 4                    1 + 2 + 3
TC (core)     1 + 4                        1 + 3
ET (enh.)     4                            3
============  ===========================  ===========================

(1: necrotic core, 2: oedema, 4 / 3: enhancing tumour.) For every case and
region (docs/methods.md, "BrainMVP: downstream"):

- **Dice** = ``2 |P ∩ G| / (|P| + |G|)``; a region empty in both the truth
  and the prediction scores 1 (BraTS's rule: nothing to find, nothing
  found), empty in exactly one of them 0.
- **HD95**: the 95th percentile Hausdorff distance between the two masks'
  surfaces, in millimetres (voxel ``spacing``), symmetric (the larger of the
  two directed 95th percentiles), computed by MONAI's
  ``compute_hausdorff_distance(percentile=95)``. Empty in both: 0. Empty in
  exactly one: :data:`EMPTY_HD95` = 373.13 mm, the diagonal of the BraTS
  240 x 240 x 155 mm volume, which is what the BraTS evaluation assigns
  (a config value; the mean HD95 over cases is dominated by such cases,
  so the median is reported beside it).

Means over cases are taken per region; nothing is dropped.

The same rules score single classes (the masks ``label == c``) where a
task is reported class-wise: :func:`score_classes`, used by
``VolumeDiceMetric`` on 2D slice predictions put back into volumes
(``BraTSMetric(regions=None)`` applies them to 3D outputs).
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    'BRATS_REGIONS', 'EMPTY_HD95', 'region_masks', 'dice_score',
    'hd95_distance', 'score_case', 'log_scores', 'score_classes'
]

#: Region -> the labels it is made of, per BraTS edition.
BRATS_REGIONS: Dict[str, Dict[str, Tuple[int, ...]]] = {
    '2021': dict(WT=(1, 2, 4), TC=(1, 4), ET=(4, )),
    '2023': dict(WT=(1, 2, 3), TC=(1, 3), ET=(3, )),
}

#: HD95 (mm) when exactly one of truth / prediction is empty:
#: sqrt(240^2 + 240^2 + 155^2).
EMPTY_HD95 = float(np.sqrt(240.**2 + 240.**2 + 155.**2))

Array = Union[np.ndarray, torch.Tensor]


def _numpy(x: Array) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) \
        else np.asarray(x)


def region_masks(labels: Array,
                 regions: Mapping[str, Sequence[int]]) -> Dict[str, np.ndarray]:
    """Boolean masks of each region of a label map.

    Args:
        labels (array): Integer label map (any shape).
        regions (Mapping[str, Sequence[int]]): Region -> labels, e.g.
            ``BRATS_REGIONS['2021']``.

    Returns:
        dict[str, np.ndarray]: Region -> bool mask of ``labels``' shape.
    """
    labels = _numpy(labels)
    return {name: np.isin(labels, list(ids)) for name, ids in regions.items()}


def dice_score(pred: Array, truth: Array) -> float:
    """Dice of two boolean masks; 1 when both are empty."""
    pred, truth = _numpy(pred).astype(bool), _numpy(truth).astype(bool)
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, truth).sum()) / total


def hd95_distance(pred: Array,
                  truth: Array,
                  spacing: Sequence[float] = (1., 1., 1.),
                  empty_value: float = EMPTY_HD95) -> float:
    """Symmetric 95th percentile Hausdorff distance of two boolean masks.

    Args:
        pred (array): Predicted mask, ``(D, H, W)`` (or 2D).
        truth (array): Ground-truth mask, same shape.
        spacing (Sequence[float]): Voxel size per axis (mm). Defaults to
            1 mm.
        empty_value (float): Distance when exactly one mask is empty.
            Defaults to :data:`EMPTY_HD95`.

    Returns:
        float: HD95 in the units of ``spacing``; 0 when both are empty.
    """
    from monai.metrics import compute_hausdorff_distance
    pred, truth = _numpy(pred).astype(bool), _numpy(truth).astype(bool)
    if pred.shape != truth.shape:
        raise ValueError(f'hd95_distance: prediction {pred.shape} and truth '
                         f'{truth.shape} differ in shape.')
    has_pred, has_truth = bool(pred.any()), bool(truth.any())
    if not has_pred and not has_truth:
        return 0.0
    if has_pred != has_truth:
        return float(empty_value)
    # MONAI takes one-hot (B, C, *spatial); one channel, no background
    to_batch = lambda m: torch.from_numpy(m)[None, None].float()  # noqa
    value = compute_hausdorff_distance(
        to_batch(pred), to_batch(truth), include_background=True,
        percentile=95, spacing=list(map(float, spacing)))
    return float(value.reshape(-1)[0])


def score_case(pred_labels: Array,
               truth_labels: Array,
               regions: Mapping[str, Sequence[int]] = BRATS_REGIONS['2021'],
               spacing: Sequence[float] = (1., 1., 1.),
               empty_value: float = EMPTY_HD95) -> Dict[str, float]:
    """Dice and HD95 of every region of one case.

    Args:
        pred_labels (array): Predicted label map.
        truth_labels (array): Ground-truth label map, same shape.
        regions (Mapping[str, Sequence[int]]): Region -> labels. Defaults
            to BraTS 2021's.
        spacing (Sequence[float]): Voxel size (mm). Defaults to 1 mm.
        empty_value (float): HD95 when exactly one mask is empty.

    Returns:
        dict[str, float]: ``Dice.<region>`` and ``HD95.<region>``.
    """
    preds = region_masks(pred_labels, regions)
    truths = region_masks(truth_labels, regions)
    out = {}
    for name in regions:
        out[f'Dice.{name}'] = dice_score(preds[name], truths[name])
        out[f'HD95.{name}'] = hd95_distance(preds[name], truths[name],
                                            spacing, empty_value)
    return out


def score_classes(pred_labels: Array,
                  truth_labels: Array,
                  classes: Sequence[str],
                  ignore_classes: Sequence[int] = (0, ),
                  spacing: Sequence[float] = (1., 1., 1.),
                  empty_value: float = EMPTY_HD95,
                  valid: Optional[Array] = None) -> Dict[str, float]:
    """Dice and HD95 of every class of one case, by the BraTS rules.

    Each class ``c`` not in ``ignore_classes`` is the mask
    ``label == c`` of prediction and truth, scored by :func:`dice_score`
    and :func:`hd95_distance`: empty in both, Dice 1 and HD95 0; empty in
    exactly one, Dice 0 and HD95 ``empty_value``.

    Args:
        pred_labels (array): Predicted label map.
        truth_labels (array): Ground-truth label map, same shape.
        classes (Sequence[str]): Class names, index = label value.
        ignore_classes (Sequence[int]): Classes not scored. Defaults to
            ``(0, )`` (the background).
        spacing (Sequence[float]): Voxel size (mm). Defaults to 1 mm.
        empty_value (float): HD95 when exactly one mask is empty.
        valid (array, optional): Bool mask of the voxels that count; both
            masks are cleared elsewhere (e.g. the ignore index). Defaults
            to None (all).

    Returns:
        dict[str, float]: ``Dice.<class>`` and ``HD95.<class>``.
    """
    pred, truth = _numpy(pred_labels), _numpy(truth_labels)
    if pred.shape != truth.shape:
        raise ValueError(f'score_classes: prediction {pred.shape} and truth '
                         f'{truth.shape} differ in shape.')
    keep = None if valid is None else _numpy(valid).astype(bool)
    out = {}
    for index, name in enumerate(classes):
        if index in tuple(ignore_classes):
            continue
        p, t = pred == index, truth == index
        if keep is not None:
            p, t = p & keep, t & keep
        out[f'Dice.{name}'] = dice_score(p, t)
        out[f'HD95.{name}'] = hd95_distance(p, t, spacing, empty_value)
    return out


def log_scores(owner: str, num_cases: int, metrics: Mapping[str, float]) -> None:
    """One log line with every score of a metric (``num_cases`` aside)."""
    from mmengine.logging import print_log
    print_log(
        '{} over {} cases: {}'.format(
            owner, num_cases, ', '.join(f'{k}={v:.4f}'
                                        for k, v in metrics.items()
                                        if k != 'num_cases')),
        logger='current')
