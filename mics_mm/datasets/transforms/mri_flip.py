"""Random mirroring of 3D MRI patches that records what was mirrored."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = ['RandomFlip3D']


@TRANSFORMS.register_module()
class RandomFlip3D(BaseTransform):
    """Mirror a 3D sample along ``axes`` with probability ``prob``.

    As MONAI's ``RandFlipd(spatial_axis=axes, prob=prob)`` of the BrainMVP
    release's downstream pipeline: one draw per sample, and when it fires
    every axis in ``axes`` is flipped together. The flipped spatial axes go
    into ``flip_axes`` (``()`` when nothing was flipped), so a template
    cropped at ``canvas_offset`` can be mirrored the same way
    (``BrainMVPSegmentor3D``; add ``'flip_axes'`` to ``PackMRIInputs``'
    ``meta_keys``). ``canvas_offset`` still gives the box of the patch on
    the canvas; use this transform after the last crop.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - gt_seg (np.ndarray, optional): ``(X, Y, Z)``.

    **Modified Keys:**

    - img, gt_seg

    **Added Keys:**

    - flip_axes (tuple[int]): spatial axes flipped.

    Args:
        axes (Sequence[int]): Spatial axes (0-2) flipped together. Defaults
            to ``(0, 1, 2)``.
        prob (float): Probability of flipping. Defaults to 0.5.
    """

    def __init__(self, axes: Sequence[int] = (0, 1, 2),
                 prob: float = 0.5) -> None:
        axes = tuple(int(a) for a in axes)
        if not axes or any(a not in (0, 1, 2) for a in axes) or \
                len(set(axes)) != len(axes):
            raise ValueError(f'RandomFlip3D: axes must be distinct values '
                             f'of 0, 1, 2, got {axes}.')
        if not 0 <= prob <= 1:
            raise ValueError(f'RandomFlip3D: prob must be in [0, 1], got '
                             f'{prob}.')
        self.axes, self.prob = axes, float(prob)

    def transform(self, results: dict) -> dict:
        """Flip ``img`` (and ``gt_seg``), record ``flip_axes``."""
        if np.random.rand() >= self.prob:
            results['flip_axes'] = ()
            return results
        img = results['img']
        if img.ndim != 4:
            raise ValueError(f'RandomFlip3D: img must be (C, X, Y, Z), got '
                             f'shape {img.shape}.')
        results['img'] = np.ascontiguousarray(
            np.flip(img, axis=tuple(a + 1 for a in self.axes)))
        if results.get('gt_seg') is not None:
            results['gt_seg'] = np.ascontiguousarray(
                np.flip(results['gt_seg'], axis=self.axes))
        results['flip_axes'] = self.axes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(axes={self.axes}, prob={self.prob})'
