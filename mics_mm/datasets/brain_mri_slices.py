"""Every 2D slice of a set of MRI studies (deterministic 2D evaluation)."""
from typing import List

import numpy as np

from mics_mm.registry import DATASETS
from .brain_mri import BrainMRIDataset
from .transforms.mri_loading import load_nifti

__all__ = ['BrainMRISliceDataset']


@DATASETS.register_module()
class BrainMRISliceDataset(BrainMRIDataset):
    """The slices of :class:`BrainMRIDataset`'s studies, one item each.

    2D models (mmsegmentation's ``EncoderDecoder`` on slices, docs/methods.md,
    "BrainMVP decision 1") are evaluated on every slice of a study along ``axis``,
    every ``stride``-th, keeping those whose foreground fraction is at
    least ``min_foreground``. The foreground is the label map's non-zero
    voxels (``foreground_from='label'``, falling back to the images for
    unlabelled studies) or any image's (``'image'``); it is read once, at
    init, with the same RAS reorientation as ``LoadMRIStudy``, so slice
    indices are positions on the loaded canvas. Each item is the study's
    item plus ``slice_index`` and ``canvas_axis``; ``TakeSlice2D`` cuts
    it out (wrap the loading in ``CachedCompose`` so a study is read
    once, not once per slice). Slices of one study can then be put back
    together: ``VolumeDiceMetric`` scores per case, in 3D.

    Args:
        axis (int): Slicing axis of the RAS canvas (0=X sagittal, 1=Y
            coronal, 2=Z axial). Defaults to 2.
        stride (int): Keep every ``stride``-th slice. Defaults to 1.
        min_foreground (float): Minimal foreground fraction of a kept
            slice; 0 keeps every slice. Defaults to 0.
        foreground_from (str): ``'label'`` or ``'image'``. Defaults to
            'label'.
        reorient_ras (bool): As ``LoadMRIStudy``. Defaults to True.
        **kwargs: Arguments of :class:`BrainMRIDataset`.
    """

    def __init__(self,
                 axis: int = 2,
                 stride: int = 1,
                 min_foreground: float = 0.0,
                 foreground_from: str = 'label',
                 reorient_ras: bool = True,
                 **kwargs) -> None:
        if axis not in (0, 1, 2):
            raise ValueError(f'BrainMRISliceDataset: axis must be 0, 1 '
                             f'or 2, got {axis}')
        if stride < 1:
            raise ValueError(f'BrainMRISliceDataset: stride must be >= '
                             f'1, got {stride}')
        if foreground_from not in ('label', 'image'):
            raise ValueError("BrainMRISliceDataset: foreground_from must "
                             f"be 'label' or 'image', got {foreground_from!r}")
        self.axis = axis
        self.stride = int(stride)
        self.min_foreground = float(min_foreground)
        self.foreground_from = foreground_from
        self.reorient_ras = reorient_ras
        super().__init__(**kwargs)

    def _foreground(self, study: dict) -> np.ndarray:
        """Per-slice foreground fraction along ``axis``."""
        if self.foreground_from == 'label' and study.get('seg_path'):
            fg = load_nifti(
                study['seg_path'], self.reorient_ras,
                owner='BrainMRISliceDataset') > 0
        else:
            fg = None
            for path in study['img_path'].values():
                vol = load_nifti(
                    path, self.reorient_ras,
                    owner='BrainMRISliceDataset') > 0
                fg = vol if fg is None else fg | vol
        other = tuple(a for a in range(3) if a != self.axis)
        return fg.mean(axis=other)

    def load_data_list(self) -> List[dict]:
        """The studies' items, one per kept slice."""
        items = []
        for study in super().load_data_list():
            fraction = self._foreground(study)
            for index in range(0, len(fraction), self.stride):
                if fraction[index] >= self.min_foreground:
                    items.append(
                        dict(study, slice_index=index, canvas_axis=self.axis))
        if not items:
            raise ValueError(
                'BrainMRISliceDataset: no slice of '
                f'{self.ann_file or self.data_root!r} has a foreground '
                f'fraction >= {self.min_foreground}; lower min_foreground.')
        return items
