"""Slices, patches and crops of MRI studies that keep the canvas position.

Every transform here updates ``canvas_offset`` (the position of the array's
origin on the canvas: the loaded RAS grid, or the template canvas once
``PlaceOnCanvas`` has run), so BrainMVP's modality templates can be cropped
at the sample's position (docs/methods.md, "BrainMVP decision 1"). A 2D slice
records ``slice_index`` (on the canvas) and ``canvas_axis``; its two array
axes are the other two canvas axes, in order.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = [
    'crop_or_pad', 'require_whole_grid', 'ForegroundCrop', 'RandomSlice2D',
    'TakeSlice2D', 'CropPad', 'RandomPatch3D'
]


def crop_or_pad(img: np.ndarray,
                seg: Optional[np.ndarray],
                size: Sequence[int],
                random: bool = True,
                pad_value: float = 0,
                seg_pad_value: int = 0
                ) -> Tuple[np.ndarray, Optional[np.ndarray], List[int]]:
    """Crop (and pad) the spatial axes of ``img`` ``(C, *spatial)`` to
    ``size``.

    Along an axis at least ``size`` long the window starts uniformly at
    random (``random``) or in the centre. A shorter axis is padded
    symmetrically (the extra voxel after) with ``pad_value`` (labels:
    ``seg_pad_value``); its shift is then negative.

    Args:
        img (np.ndarray): ``(C, *spatial)``.
        seg (np.ndarray, optional): ``spatial`` labels, cropped alike.
        size (Sequence[int]): Target spatial size.
        random (bool): Random (True) or centred window. Defaults to True.
        pad_value (float): Image padding. Defaults to 0.
        seg_pad_value (int): Label padding. Defaults to 0.

    Returns:
        tuple: ``img``, ``seg`` and the per-axis shift of the new origin
        (add it to ``canvas_offset``).
    """
    if len(size) != img.ndim - 1:
        raise ValueError(f'crop_or_pad: size {tuple(size)} for an image of '
                         f'spatial shape {img.shape[1:]}')
    pads, box, shift = [], [], []
    for dim, want in zip(img.shape[1:], size):
        if dim >= want:
            start = int(np.random.randint(0, dim - want + 1)) if random \
                else (dim - want) // 2
            pads.append((0, 0))
            box.append(slice(start, start + want))
            shift.append(start)
        else:
            before = (want - dim) // 2
            pads.append((before, want - dim - before))
            box.append(slice(None))
            shift.append(-before)
    box = tuple(box)
    padded = any(p != (0, 0) for p in pads)
    img = img[(slice(None), ) + box]
    if padded:
        img = np.pad(img, [(0, 0)] + pads, constant_values=pad_value)
    img = np.ascontiguousarray(img, dtype=np.float32)
    if seg is not None:
        seg = seg[box]
        if padded:
            seg = np.pad(seg, pads, constant_values=seg_pad_value)
        seg = np.ascontiguousarray(seg)
    return img, seg, shift


@TRANSFORMS.register_module()
class ForegroundCrop(BaseTransform):
    """Crop to the bounding box of voxels > 0 in any channel.

    The box is grown by ``margin`` voxels on each side (within the volume).
    With ``symmetric`` it is then grown to be symmetric about the centre of
    the array (the centre stays the box's centre), as BrainMVP's release
    crops (its ``CenterCropForegroundd``: along an axis of length ``n``
    with centre ``c = n / 2`` and foreground box ``[a, b)``, the crop is
    ``[int(c - d), int(c + d))`` with ``d = max(|a - c|, |b - c|)``). A
    volume without foreground is left unchanged.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - canvas_offset (tuple[int, int, int], optional): Defaults to zeros.
    - gt_seg (np.ndarray, optional)

    **Modified Keys:**

    - img, gt_seg: cropped.
    - canvas_offset: plus the crop's start.

    Args:
        margin (int): Voxels kept around the box. Defaults to 0.
        symmetric (bool): Grow the box to be symmetric about the array
            centre (the release). Defaults to False (tight box).
    """

    def __init__(self, margin: int = 0, symmetric: bool = False) -> None:
        self.margin = int(margin)
        self.symmetric = bool(symmetric)

    def transform(self, results: dict) -> dict:
        """Crop ``img`` (and ``gt_seg``) to the foreground."""
        img = results['img']
        fg = (img > 0).any(axis=0)
        if not fg.any():
            return results
        starts, stops = [], []
        for ax in range(fg.ndim):
            other = tuple(a for a in range(fg.ndim) if a != ax)
            idx = np.flatnonzero(fg.any(axis=other))
            start = max(int(idx[0]) - self.margin, 0)
            stop = min(int(idx[-1]) + 1 + self.margin, fg.shape[ax])
            if self.symmetric:
                centre = fg.shape[ax] / 2
                half = max(abs(start - centre), abs(stop - centre))
                start, stop = int(centre - half), int(centre + half)
            starts.append(start)
            stops.append(stop)
        box = tuple(slice(a, b) for a, b in zip(starts, stops))
        results['img'] = np.ascontiguousarray(img[(slice(None), ) + box])
        if results.get('gt_seg') is not None:
            results['gt_seg'] = np.ascontiguousarray(results['gt_seg'][box])
        offset = results.get('canvas_offset') or (0, ) * fg.ndim
        results['canvas_offset'] = tuple(
            int(o) + s for o, s in zip(offset, starts))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(margin={self.margin}, '
                f'symmetric={self.symmetric})')


def _canvas_axes(results: dict, spatial_dims: int) -> Tuple[int, ...]:
    """Canvas axes of the array's spatial axes (2D slice: the other two)."""
    if spatial_dims == 3:
        return (0, 1, 2)
    axis = results.get('canvas_axis')
    if axis is None:
        raise KeyError('a 2D MRI array needs canvas_axis (run '
                       'RandomSlice2D / TakeSlice2D first)')
    return tuple(a for a in range(3) if a != int(axis))


def _slice(results: dict, axis: int, local: Optional[int]) -> dict:
    """Replace the volume by slice ``local`` along ``axis`` (None: zeros)."""
    img = results['img']
    seg = results.get('gt_seg')
    if local is None:
        shape = list(img.shape[1:])
        shape.pop(axis)
        results['img'] = np.zeros((img.shape[0], *shape), np.float32)
        if seg is not None:
            results['gt_seg'] = np.zeros(shape, seg.dtype)
    else:
        results['img'] = np.ascontiguousarray(
            np.take(img, local, axis=axis + 1))
        if seg is not None:
            results['gt_seg'] = np.ascontiguousarray(
                np.take(seg, local, axis=axis))
    results['canvas_axis'] = axis
    results['img_shape'] = tuple(results['img'].shape[1:])
    return results


@TRANSFORMS.register_module()
class RandomSlice2D(BaseTransform):
    """Take one random 2D slice of the volume along ``axis``.

    With ``skip_empty``, only slices whose foreground fraction (voxels > 0
    in any channel) is at least ``min_foreground`` are candidates; if no
    slice qualifies, every slice is.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - canvas_offset (tuple[int, int, int], optional)
    - gt_seg (np.ndarray, optional)

    **Modified Keys:**

    - img: ``(C, H, W)`` (the two other spatial axes, in order).
    - gt_seg: ``(H, W)``.

    **Added Keys:**

    - slice_index (int): index of the slice on the original canvas,
      ``canvas_offset[axis] + local index``.
    - canvas_axis (int): ``axis``.
    - img_shape (tuple[int, int]): ``(H, W)``.

    Args:
        axis (int): Spatial axis (0=X, 1=Y, 2=Z). Defaults to 2.
        skip_empty (bool): Skip mostly empty slices. Defaults to True.
        min_foreground (float): Minimal foreground fraction. Defaults to
            0.01.
    """

    def __init__(self, axis: int = 2, skip_empty: bool = True,
                 min_foreground: float = 0.01) -> None:
        if axis not in (0, 1, 2):
            raise ValueError(f'RandomSlice2D: axis must be 0, 1 or 2, '
                             f'got {axis}')
        self.axis, self.skip_empty = axis, skip_empty
        self.min_foreground = float(min_foreground)

    def transform(self, results: dict) -> dict:
        """Slice ``img`` (and ``gt_seg``)."""
        img = results['img']
        candidates = np.arange(img.shape[self.axis + 1])
        if self.skip_empty:
            fg = (img > 0).any(axis=0)
            other = tuple(a for a in range(3) if a != self.axis)
            good = np.flatnonzero(fg.mean(axis=other) >= self.min_foreground)
            if good.size:
                candidates = good
        idx = int(np.random.choice(candidates))
        offset = results.get('canvas_offset') or (0, 0, 0)
        results['slice_index'] = int(offset[self.axis]) + idx
        return _slice(results, self.axis, idx)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(axis={self.axis}, skip_empty='
                f'{self.skip_empty}, min_foreground={self.min_foreground})')


@TRANSFORMS.register_module()
class TakeSlice2D(BaseTransform):
    """Take the slice ``results['slice_index']`` (a canvas index).

    The deterministic counterpart of :class:`RandomSlice2D`, for
    evaluation over every slice of a study (``BrainMRISliceDataset``
    puts ``slice_index`` and ``canvas_axis`` in each item). The local index
    is ``slice_index - canvas_offset[axis]``; a slice outside the current
    array (removed by a foreground crop, so empty in every channel) comes
    out as zeros.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - slice_index (int)
    - canvas_axis (int, optional): else ``axis``.
    - canvas_offset (tuple[int, int, int], optional)
    - gt_seg (np.ndarray, optional)

    **Modified Keys:**

    - img: ``(C, H, W)``; gt_seg: ``(H, W)``.

    **Added Keys:**

    - canvas_axis, img_shape

    Args:
        axis (int): Axis used when the item has no ``canvas_axis``.
            Defaults to 2.
    """

    def __init__(self, axis: int = 2) -> None:
        if axis not in (0, 1, 2):
            raise ValueError(f'TakeSlice2D: axis must be 0, 1 or 2, got '
                             f'{axis}')
        self.axis = axis

    def transform(self, results: dict) -> dict:
        """Slice ``img`` (and ``gt_seg``) at the item's slice index."""
        if 'slice_index' not in results:
            raise KeyError('TakeSlice2D: the item has no slice_index; '
                           'use BrainMRISliceDataset (or '
                           'RandomSlice2D for training).')
        axis = int(results.get('canvas_axis', self.axis))
        offset = results.get('canvas_offset') or (0, 0, 0)
        local = int(results['slice_index']) - int(offset[axis])
        if not 0 <= local < results['img'].shape[axis + 1]:
            local = None
        return _slice(results, axis, local)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(axis={self.axis})'


@TRANSFORMS.register_module()
class CropPad(BaseTransform):
    """Crop and / or pad a 2D slice or a 3D volume to a fixed ``size``.

    ``mode='random'`` draws the window uniformly (training), ``'center'``
    centres it (evaluation: with a ``size`` at least the slice's, nothing
    is cut and the padding is symmetric). Axes shorter than ``size`` are
    padded (``pad_value``; labels ``seg_pad_value``), and ``canvas_offset``
    moves with the window (negative where padded), see
    :func:`crop_or_pad`.

    **Required Keys:**

    - img (np.ndarray): ``(C, H, W)`` (with ``canvas_axis``) or
      ``(C, X, Y, Z)``.
    - canvas_offset (tuple[int, int, int], optional)
    - gt_seg (np.ndarray, optional)

    **Modified Keys:**

    - img, gt_seg, canvas_offset, img_shape

    Args:
        size (int | Sequence[int]): Output spatial size (an int: every
            axis).
        mode (str): ``'random'`` or ``'center'``. Defaults to 'random'.
        pad_value (float): Image padding. Defaults to 0.
        seg_pad_value (int): Label padding. Defaults to 0 (background;
            use the ignore index, e.g. 255, to leave padding out of the
            loss).
    """

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 mode: str = 'random',
                 pad_value: float = 0,
                 seg_pad_value: int = 0) -> None:
        if mode not in ('random', 'center'):
            raise ValueError(f"{self.__class__.__name__}: mode must be "
                             f"'random' or 'center', got {mode!r}")
        self.size = (int(size), ) if isinstance(size, int) else tuple(
            int(s) for s in size)
        if not self.size or min(self.size) < 1 or len(self.size) > 3:
            raise ValueError(f'{self.__class__.__name__}: size must be 1-3 '
                             f'positive ints, got {size}')
        self.mode = mode
        self.pad_value = pad_value
        self.seg_pad_value = seg_pad_value

    def transform(self, results: dict) -> dict:
        """Crop / pad ``img`` and ``gt_seg``; move ``canvas_offset``."""
        img = results['img']
        dims = img.ndim - 1
        size = self.size * dims if len(self.size) == 1 else self.size
        img, seg, shift = crop_or_pad(img, results.get('gt_seg'), size,
                                      self.mode == 'random', self.pad_value,
                                      self.seg_pad_value)
        results['img'] = img
        if seg is not None:
            results['gt_seg'] = seg
        offset = list(results.get('canvas_offset') or (0, 0, 0))
        for axis, s in zip(_canvas_axes(results, dims), shift):
            offset[axis] = int(offset[axis]) + s
        results['canvas_offset'] = tuple(offset)
        results['img_shape'] = tuple(img.shape[1:])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, mode='
                f'{self.mode!r}, pad_value={self.pad_value}, seg_pad_value='
                f'{self.seg_pad_value})')


@TRANSFORMS.register_module()
class RandomPatch3D(CropPad):
    """Random 3D patch of ``size``, padding axes that are too small.

    :class:`CropPad` with ``mode='random'`` on a volume: along an axis
    at least ``size`` long the start is uniform at random; a shorter axis is
    padded symmetrically (extra voxel after) with ``pad_value`` (label: 0),
    and ``canvas_offset`` on that axis is **negative**: the patch origin
    lies before the canvas origin, and patch voxels outside the canvas are
    padding.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - canvas_offset (tuple[int, int, int], optional)
    - gt_seg (np.ndarray, optional)

    **Modified Keys:**

    - img: ``(C, *size)``.
    - gt_seg: ``size``.
    - canvas_offset: position of the patch origin on the canvas.

    Args:
        size (int | Sequence[int]): Patch size. Defaults to (96, 96, 96).
        pad_value (float): Image padding value. Defaults to 0.
    """

    def __init__(self, size: Union[int, Sequence[int]] = (96, 96, 96),
                 pad_value: float = 0) -> None:
        if isinstance(size, int):
            size = (size, ) * 3
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f'RandomPatch3D: size must be 3 positive '
                             f'ints, got {size}')
        super().__init__(size, mode='random', pad_value=pad_value)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, pad_value='
                f'{self.pad_value})')


def require_whole_grid(results: dict, owner: str) -> None:
    """Raise unless ``img`` is still the whole loaded 3D grid.

    Resampling and canvas placement define the grid that every later
    position refers to; after a crop or a slice their positions would be
    wrong without any error.

    Args:
        results (dict): With ``img`` and, from ``LoadMRIStudy``,
            ``canvas_shape`` and ``canvas_offset``.
        owner (str): Name used in the message.

    Raises:
        ValueError: ``img`` is not ``(C, X, Y, Z)``, or it was cropped,
            padded or sliced already.
    """
    img = results['img']
    if img.ndim != 4:
        raise ValueError(
            f'{owner}: needs a (C, X, Y, Z) volume, got shape {img.shape}; '
            'put it before RandomSlice2D / TakeSlice2D in the pipeline.')
    offset = tuple(int(o) for o in results.get('canvas_offset') or (0, ) * 3)
    shape = results.get('canvas_shape')
    if any(offset) or (shape is not None
                       and tuple(int(s) for s in shape) != img.shape[1:]):
        raise ValueError(
            f'{owner}: the volume of study {results.get("case")!r} was '
            f'already cropped or padded (canvas_offset {offset}, shape '
            f'{img.shape[1:]} on a {shape} canvas); put {owner} right after '
            'LoadMRIStudy / ResampleToSpacing, before any crop, patch or '
            'slice.')
