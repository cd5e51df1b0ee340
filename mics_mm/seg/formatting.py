"""Pack an MRI slice for mmsegmentation."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mics_mm.registry import TRANSFORMS
from mmseg.structures import SegDataSample

__all__ = ['PackMRISegInputs']


@TRANSFORMS.register_module()
class PackMRISegInputs(BaseTransform):
    """Pack a ``(C, H, W)`` MRI slice and its labels as mmseg expects.

    The counterpart of mmseg's ``PackSegInputs`` for the MRI transforms:
    ``inputs`` is the float32 ``(C, H, W)`` slice (one channel per
    modality), ``gt_sem_seg`` the int64 ``(1, H, W)`` label map, and the
    metainfo carries mmseg's shape keys (``ori_shape = img_shape`` of the
    slice: predictions are scored on the slice as packed) plus the MRI
    keys the template filling and the per-case metric need.

    **Required Keys:**

    - img (np.ndarray): ``(C, H, W)``.
    - gt_seg (np.ndarray, optional): ``(H, W)``.
    - case, modalities, missing_modalities, canvas_offset, canvas_axis,
      slice_index (optional)

    **Added Keys:**

    - inputs (torch.Tensor), data_samples (SegDataSample)

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults
            to ``('case', 'modalities', 'missing_modalities',
            'canvas_offset', 'canvas_shape', 'canvas_axis', 'slice_index',
            'seg_path')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('case', 'modalities',
                                             'missing_modalities',
                                             'canvas_offset', 'canvas_shape',
                                             'canvas_axis', 'slice_index',
                                             'seg_path')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the slice."""
        img = np.ascontiguousarray(results['img'], dtype=np.float32)
        if img.ndim != 3:
            raise ValueError(
                f'PackMRISegInputs: expected a (C, H, W) slice, got shape '
                f'{img.shape}; slice the volume first (RandomSlice2D / '
                'TakeSlice2D).')
        sample = SegDataSample()
        meta = {k: results[k] for k in self.meta_keys if k in results}
        shape = tuple(img.shape[1:])
        meta.update(ori_shape=shape, img_shape=shape, pad_shape=shape)
        sample.set_metainfo(meta)
        if results.get('gt_seg') is not None:
            seg = np.ascontiguousarray(results['gt_seg'], dtype=np.int64)
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(seg)[None])
        return dict(inputs=torch.from_numpy(img), data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
