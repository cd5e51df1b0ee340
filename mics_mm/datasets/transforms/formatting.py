"""Pack a sample for the model: multimodal 2D images
(:class:`PackMultiModalInputs`) and MRI studies (:class:`PackMRIInputs`).
"""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS
from mmpretrain.structures import DataSample

__all__ = ['MissingModalityError', 'PackMultiModalInputs',
           'PackMRIInputs']


class MissingModalityError(ValueError):
    """A modality the sample must have has no image at packing time."""


def _to_chw_tensor(img: np.ndarray) -> torch.Tensor:
    """Turn an HxW or HxWxC array into a contiguous CxHxW tensor (same
    dtype)."""
    if isinstance(img, torch.Tensor):
        return img.contiguous()
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f'expected an HxWxC image, got shape {img.shape}')
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackMultiModalInputs(BaseTransform):
    """Pack the images of all modalities and the label of one sample.

    ``inputs`` becomes a dict modality -> CxHxW tensor (contiguous, dtype of
    the image, so uint8 for loaded images) in the order of
    ``results['modalities']`` (of the ``img`` dict when that key is absent),
    like mmdet3d's ``Pack3DDetInputs``; the model's data preprocessor
    normalises each modality. ``data_samples`` is a
    :class:`~mmpretrain.structures.DataSample` holding ``gt_label`` (when
    present) and the meta keys, as mmpretrain's ``PackInputs`` does.

    A modality listed in ``results['modalities']`` without an image raises
    :class:`MissingModalityError` (a :class:`ValueError`).

    **Required Keys:**

    - img (dict[str, np.ndarray])
    - modalities (tuple[str], optional)
    - gt_label (int, optional)
    - ``*meta_keys`` (optional)

    **Deleted Keys:**

    All other keys.

    **Added Keys:**

    - inputs (dict[str, torch.Tensor]): CxHxW tensors keyed by modality.
    - data_samples (:obj:`~mmpretrain.structures.DataSample`)

    Args:
        meta_keys (Sequence[str]): Keys copied into the data sample's
            metainfo when present. Defaults to ('sample_idx', 'img_path',
            'ori_shape', 'img_shape', 'modalities').
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('sample_idx', 'img_path',
                                             'ori_shape', 'img_shape',
                                             'modalities')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample.

        Args:
            results (dict): The sample after the pipeline.

        Returns:
            dict: ``{'inputs': dict[str, Tensor], 'data_samples':
            DataSample}``.
        """
        imgs = results.get('img')
        if not isinstance(imgs, dict):
            raise TypeError('PackMultiModalInputs needs results["img"] '
                            'to be a dict modality -> image (use '
                            'LoadMultiModalImages)')
        modalities = tuple(results.get('modalities') or imgs)
        inputs = {}
        for mod in modalities:
            if mod not in imgs:
                raise MissingModalityError(
                    f'Sample {results.get("img_path")!r} has no {mod!r} '
                    f'image (it has {list(imgs)}); add SimulatedNBI to '
                    'the pipeline or use the paired layout.')
            inputs[mod] = _to_chw_tensor(imgs[mod])

        data_sample = DataSample()
        if 'gt_label' in results:
            data_sample.set_gt_label(results['gt_label'])
        for key in self.meta_keys:
            if key in results:
                data_sample.set_field(
                    results[key], key, field_type='metainfo')
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackMRIInputs(BaseTransform):
    """Pack an MRI sample into ``inputs`` and a ``DataSample``.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)`` or ``(C, H, W)``.
    - gt_seg (np.ndarray, optional)
    - gt_label (int, optional): class label (classification).
    - case, modalities, missing_modalities, canvas_offset, canvas_shape,
      slice_index, canvas_axis (optional): copied into the metainfo when
      present.

    **Added Keys:**

    - inputs (torch.Tensor): float32 copy of ``img``.
    - data_samples (:obj:`~mmpretrain.structures.DataSample`): metainfo
      as above, ``gt_seg`` as an int64 tensor field and ``gt_label`` when
      present.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults
            to ``('case', 'modalities', 'missing_modalities',
            'canvas_offset', 'canvas_shape', 'slice_index', 'canvas_axis',
            'img_path')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('case', 'modalities',
                                             'missing_modalities',
                                             'canvas_offset', 'canvas_shape',
                                             'slice_index', 'canvas_axis',
                                             'img_path')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack the sample."""
        inputs = torch.from_numpy(
            np.ascontiguousarray(results['img'], dtype=np.float32))
        data_sample = DataSample()
        for key in self.meta_keys:
            if key in results:
                data_sample.set_field(
                    results[key], key, field_type='metainfo')
        if results.get('gt_seg') is not None:
            data_sample.set_field(
                torch.from_numpy(
                    np.ascontiguousarray(results['gt_seg'],
                                         dtype=np.int64)),
                'gt_seg',
                dtype=torch.Tensor)
        if results.get('gt_label') is not None:
            data_sample.set_gt_label(int(results['gt_label']))
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
