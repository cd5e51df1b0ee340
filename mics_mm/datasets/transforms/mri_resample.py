"""Resample an MRI study to a fixed voxel size (BrainMVP: 1 mm isotropic).

BrainMVP's release resamples every study to 1 mm with MONAI's ``Spacingd``
(bilinear) after the RAS reorientation, before the foreground crop
(docs/methods.md, "BrainMVP: data and pre-processing"). This transform does
the same with MONAI's :class:`monai.transforms.Spacing`, imported on first
use (MONAI is a runtime requirement, but slow to import).
"""
from typing import Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

from .mri_geometry import require_whole_grid
from .mri_loading import voxel_sizes

__all__ = ['ResampleToSpacing']


@TRANSFORMS.register_module()
class ResampleToSpacing(BaseTransform):
    """Resample the study to the voxel size ``pixdim`` (mm).

    Images are interpolated with ``mode`` (bilinear by default, as the
    release), labels with nearest neighbour. The field of view is kept
    (MONAI's ``Spacing``: the output shape covers the same extent, the
    orientation of the affine is kept), so a 128 x 62 x 128 volume of
    1.5 x 2 x 1.2 mm voxels becomes 192 x 123 x 153 at 1 mm. A study
    whose voxels already have the target size (within ``tol`` mm on every
    axis; BraTS at 1 mm) is left untouched without importing MONAI.

    It must run on the whole loaded grid, right after ``LoadMRIStudy`` and
    before any crop (``canvas_offset`` is reset to zeros and
    ``canvas_shape`` becomes the new grid); otherwise it raises.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - affine (np.ndarray): 4x4 voxel-to-world affine (``LoadMRIStudy``).
    - gt_seg (np.ndarray, optional)
    - canvas_shape, canvas_offset (optional)

    **Modified Keys:**

    - img (float32), gt_seg (int64): resampled.
    - affine: of the new grid.
    - canvas_shape: the new grid's shape; canvas_offset: zeros.

    **Added Keys:**

    - spacing (tuple[float, float, float]): voxel size in mm.

    Args:
        pixdim (float | Sequence[float]): Target voxel size in mm (a float:
            every axis). Defaults to 1.0.
        mode (str): Image interpolation of MONAI's ``Spacing``
            (``'bilinear'``, ``'nearest'``, or a spline order). Defaults to
            'bilinear'.
        padding_mode (str): Values outside the input (MONAI's
            ``padding_mode``). Defaults to 'border' (MONAI's and the
            release's default).
        tol (float): Voxel sizes within ``tol`` mm of ``pixdim`` are not
            resampled. Defaults to 1e-3.
    """

    def __init__(self,
                 pixdim: Union[float, Sequence[float]] = 1.0,
                 mode: str = 'bilinear',
                 padding_mode: str = 'border',
                 tol: float = 1e-3) -> None:
        if isinstance(pixdim, (int, float)):
            pixdim = (float(pixdim), ) * 3
        pixdim = tuple(float(p) for p in pixdim)
        if len(pixdim) != 3 or min(pixdim) <= 0:
            raise ValueError('ResampleToSpacing: pixdim must be a positive '
                             f'float or 3 positive floats, got {pixdim}')
        self.pixdim = pixdim
        self.mode = mode
        self.padding_mode = padding_mode
        self.tol = float(tol)

    def _resample(self, array: np.ndarray, affine: np.ndarray, mode: str,
                  shape=None):
        """MONAI ``Spacing`` on a ``(C, X, Y, Z)`` float32 array."""
        from monai.data import MetaTensor
        from monai.transforms import Spacing
        spacing = Spacing(
            pixdim=self.pixdim,
            mode=mode,
            padding_mode=self.padding_mode,
            dtype=np.float32)
        out = spacing(
            MetaTensor(
                torch.from_numpy(np.ascontiguousarray(array, np.float32)),
                affine=torch.as_tensor(affine, dtype=torch.float64)),
            output_spatial_shape=shape)
        return (out.as_tensor().numpy(),
                np.asarray(out.affine, dtype=np.float64))

    def transform(self, results: dict) -> dict:
        """Resample ``img`` (and ``gt_seg``) to ``pixdim``."""
        if results.get('affine') is None:
            raise KeyError('ResampleToSpacing: the study has no affine; '
                           'run LoadMRIStudy first.')
        require_whole_grid(results, 'ResampleToSpacing')
        affine = np.asarray(results['affine'], dtype=np.float64)
        current = voxel_sizes(affine)
        if np.abs(np.subtract(current, self.pixdim)).max() <= self.tol:
            results['spacing'] = current
            return results
        img, new_affine = self._resample(results['img'], affine, self.mode)
        results['img'] = np.ascontiguousarray(img, dtype=np.float32)
        seg = results.get('gt_seg')
        if seg is not None:
            seg, _ = self._resample(seg[None], affine, 'nearest',
                                    shape=img.shape[1:])
            results['gt_seg'] = np.ascontiguousarray(
                np.rint(seg[0]).astype(np.int64))
        results['affine'] = new_affine
        results['spacing'] = voxel_sizes(new_affine)
        results['canvas_shape'] = tuple(int(s) for s in img.shape[1:])
        results['canvas_offset'] = (0, 0, 0)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(pixdim={self.pixdim}, mode='
                f'{self.mode!r}, padding_mode={self.padding_mode!r}, tol='
                f'{self.tol})')
