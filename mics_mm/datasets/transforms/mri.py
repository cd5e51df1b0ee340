"""Transforms for multi-parametric MRI studies (3D volumes, 2D slices).

Arrays are float32 numpy ``(C, X, Y, Z)`` with one channel per modality.
``canvas_offset`` is the position, on the loaded (RAS) canvas, of the
current array's origin; it lets later code index a canvas-sized template
at the sample's position (BrainMVP's modality templates).
"""
import warnings
from typing import Optional, Sequence, Tuple, Union

import nibabel as nib
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

__all__ = [
    'MicsLoadMRIStudy', 'MicsPercentileNormalize', 'MicsForegroundCrop',
    'MicsSampleModalities', 'MicsRandomSlice2D', 'MicsRandomPatch3D',
    'MicsPackMRIInputs'
]


@TRANSFORMS.register_module()
class MicsLoadMRIStudy(BaseTransform):
    """Load the NIfTI volumes of one study with nibabel.

    Each file is read, a trailing singleton 4th dimension is squeezed (a
    documented repair; a real 4D series raises), and, with
    ``reorient_ras``, the volume is turned to the closest RAS orientation
    (:func:`nibabel.as_closest_canonical`, axis flips / permutations only,
    no resampling). All modalities (and the label) must then share one 3D
    shape, else a ``ValueError`` names both files and shapes. An unreadable
    file raises ``OSError`` naming it. NaN / inf voxels are replaced by 0
    with a warning (once per file) when ``nan_policy='zero'``, or raise a
    ``ValueError`` when ``nan_policy='error'``.

    **Required Keys:**

    - img_path (dict[str, str]): modality -> file.
    - seg_path (str, optional)
    - modalities (tuple[str], optional): channel order; defaults to the
      order of ``img_path``.

    **Added Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)`` float32, channels in
      ``modalities`` order.
    - modalities (tuple[str])
    - gt_seg (np.ndarray): ``(X, Y, Z)`` int64, only if a label exists.
    - canvas_shape (tuple[int, int, int]): ``(X, Y, Z)``.
    - canvas_offset (tuple[int, int, int]): ``(0, 0, 0)``.

    Args:
        reorient_ras (bool): Reorient to RAS. Defaults to True.
        nan_policy (str): ``'zero'`` or ``'error'``. Defaults to 'zero'.
    """

    def __init__(self, reorient_ras: bool = True,
                 nan_policy: str = 'zero') -> None:
        if nan_policy not in ('zero', 'error'):
            raise ValueError("MicsLoadMRIStudy: nan_policy must be 'zero' or "
                             f"'error', got {nan_policy!r}")
        self.reorient_ras = reorient_ras
        self.nan_policy = nan_policy
        self._warned = set()

    def _load(self, path: str) -> np.ndarray:
        try:
            img = nib.load(path)
            shape = tuple(img.shape)
        except Exception as err:  # noqa: BLE001 (any read / decode error)
            raise OSError(f'MicsLoadMRIStudy: cannot read NIfTI file '
                          f'{path!r} ({type(err).__name__}: {err}); '
                          're-export or remove it.') from err
        if len(shape) == 4 and shape[3] == 1:
            img = nib.funcs.squeeze_image(img)
        if len(img.shape) != 3:
            raise ValueError(
                f'MicsLoadMRIStudy: {path!r} has shape {shape}, not a 3D '
                'volume; split the series and list one 3D volume per '
                'modality.')
        try:
            if self.reorient_ras:
                img = nib.as_closest_canonical(img)
            data = np.asarray(img.dataobj, dtype=np.float32)
        except Exception as err:  # noqa: BLE001 (truncated data, ...)
            raise OSError(f'MicsLoadMRIStudy: cannot read NIfTI file '
                          f'{path!r} ({type(err).__name__}: {err}); '
                          're-export or remove it.') from err
        bad = ~np.isfinite(data)
        if bad.any():
            if self.nan_policy == 'error':
                raise ValueError(
                    f'MicsLoadMRIStudy: {path!r} has {int(bad.sum())} NaN/inf '
                    "voxels; clean the file or use nan_policy='zero'.")
            if path not in self._warned:
                warnings.warn(f'MicsLoadMRIStudy: {path!r} has '
                              f'{int(bad.sum())} NaN/inf voxels, set to 0.')
                self._warned.add(path)
            data = np.where(bad, np.float32(0), data)
        return data

    def transform(self, results: dict) -> dict:
        """Load the volumes of one study.

        Args:
            results (dict): With ``img_path`` (and ``seg_path``).

        Returns:
            dict: With ``img``, ``modalities``, ``canvas_shape``,
            ``canvas_offset`` (and ``gt_seg``).
        """
        paths = results['img_path']
        if not isinstance(paths, dict) or not paths:
            raise TypeError('MicsLoadMRIStudy: img_path must be a non-empty '
                            f'dict modality -> file, got {paths!r}')
        mods = tuple(results.get('modalities') or paths)
        vols, first = [], None
        for mod in mods:
            path = paths[mod]
            vol = self._load(path)
            if first is None:
                first = (path, vol.shape)
            elif vol.shape != first[1]:
                raise ValueError(
                    f'MicsLoadMRIStudy: {first[0]!r} has shape {first[1]} '
                    f'but {path!r} has shape {vol.shape} after '
                    'reorientation; co-register (resample) the study first.')
            vols.append(vol)
        results['img'] = np.ascontiguousarray(np.stack(vols, axis=0))
        results['modalities'] = mods
        seg_path = results.get('seg_path')
        if seg_path:
            seg = self._load(seg_path)
            if seg.shape != first[1]:
                raise ValueError(
                    f'MicsLoadMRIStudy: {first[0]!r} has shape {first[1]} '
                    f'but label {seg_path!r} has shape {seg.shape}; '
                    'co-register the label with the images.')
            results['gt_seg'] = np.rint(seg).astype(np.int64)
        results['canvas_shape'] = tuple(int(s) for s in first[1])
        results['canvas_offset'] = (0, 0, 0)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reorient_ras={self.reorient_ras}'
                f', nan_policy={self.nan_policy!r})')


@TRANSFORMS.register_module()
class MicsPercentileNormalize(BaseTransform):
    """Per-channel percentile scaling over the foreground (non-zero) voxels.

    For each channel, the ``low`` and ``high`` percentiles of its non-zero
    voxels are mapped to 0 and 1 (linearly), then clipped to [0, 1] when
    ``clip``. Background (zero) voxels stay 0, so a foreground crop still
    works afterwards. A channel without foreground is left at 0; a channel
    with ``high == low`` maps its foreground to 1.

    **Required Keys:**

    - img (np.ndarray): ``(C, ...)``.

    **Modified Keys:**

    - img (float32)

    Args:
        low (float): Lower percentile. Defaults to 5.
        high (float): Upper percentile. Defaults to 95.
        clip (bool): Clip to [0, 1]. Defaults to True.
    """

    def __init__(self, low: float = 5, high: float = 95,
                 clip: bool = True) -> None:
        if not 0 <= low < high <= 100:
            raise ValueError('MicsPercentileNormalize: need 0 <= low < high '
                             f'<= 100, got low={low}, high={high}')
        self.low, self.high, self.clip = low, high, clip

    def transform(self, results: dict) -> dict:
        """Normalise ``img`` channel by channel."""
        img = np.asarray(results['img'], dtype=np.float32)
        out = np.zeros_like(img)
        for c in range(img.shape[0]):
            ch = img[c]
            fg = ch != 0
            if not fg.any():
                continue
            lo, hi = np.percentile(ch[fg], (self.low, self.high))
            vals = ((ch[fg] - lo) / (hi - lo) if hi > lo else np.ones_like(
                ch[fg]))
            if self.clip:
                vals = np.clip(vals, 0, 1)
            out[c][fg] = vals
        results['img'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(low={self.low}, high={self.high}'
                f', clip={self.clip})')


@TRANSFORMS.register_module()
class MicsForegroundCrop(BaseTransform):
    """Crop to the bounding box of voxels > 0 in any channel.

    The box is grown by ``margin`` voxels on each side (within the volume).
    A volume without foreground is left unchanged.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - canvas_offset (tuple[int, int, int], optional): Defaults to zeros.
    - gt_seg (np.ndarray, optional)

    **Modified Keys:**

    - img, gt_seg: cropped.
    - canvas_offset: plus the crop's start.

    Args:
        margin (int): Voxels kept around the box. Defaults to 0.
    """

    def __init__(self, margin: int = 0) -> None:
        self.margin = int(margin)

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
            starts.append(max(int(idx[0]) - self.margin, 0))
            stops.append(min(int(idx[-1]) + 1 + self.margin, fg.shape[ax]))
        box = tuple(slice(a, b) for a, b in zip(starts, stops))
        results['img'] = np.ascontiguousarray(img[(slice(None), ) + box])
        if results.get('gt_seg') is not None:
            results['gt_seg'] = np.ascontiguousarray(results['gt_seg'][box])
        offset = results.get('canvas_offset') or (0, ) * fg.ndim
        results['canvas_offset'] = tuple(
            int(o) + s for o, s in zip(offset, starts))
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(margin={self.margin})'


@TRANSFORMS.register_module()
class MicsSampleModalities(BaseTransform):
    """Choose ``num`` channels of the study at random.

    With at least ``num`` channels, ``num`` distinct ones are drawn without
    replacement. With fewer, every channel is kept and the missing ones are
    duplicates drawn at random with replacement (as BrainMVP's public code),
    in shuffled order.

    **Required Keys:**

    - img (np.ndarray): ``(C, ...)``.
    - modalities (tuple[str])

    **Modified Keys:**

    - img: ``(num, ...)``.
    - modalities: the names of the chosen channels (may repeat).

    Args:
        num (int): Channels to output. Defaults to 4.
    """

    def __init__(self, num: int = 4) -> None:
        if num < 1:
            raise ValueError(f'MicsSampleModalities: num must be >= 1, got '
                             f'{num}')
        self.num = int(num)

    def transform(self, results: dict) -> dict:
        """Sample the channels."""
        img = results['img']
        n = img.shape[0]
        if n >= self.num:
            idx = np.random.choice(n, self.num, replace=False)
        else:
            extra = np.random.choice(n, self.num - n, replace=True)
            idx = np.random.permutation(np.concatenate([np.arange(n),
                                                        extra]))
        mods = tuple(results.get('modalities') or range(n))
        results['img'] = np.ascontiguousarray(img[idx])
        results['modalities'] = tuple(mods[i] for i in idx)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num={self.num})'


@TRANSFORMS.register_module()
class MicsRandomSlice2D(BaseTransform):
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
            raise ValueError(f'MicsRandomSlice2D: axis must be 0, 1 or 2, '
                             f'got {axis}')
        self.axis, self.skip_empty = axis, skip_empty
        self.min_foreground = float(min_foreground)

    def transform(self, results: dict) -> dict:
        """Slice ``img`` (and ``gt_seg``)."""
        img = results['img']
        ax = self.axis + 1
        n = img.shape[ax]
        candidates = np.arange(n)
        if self.skip_empty:
            fg = (img > 0).any(axis=0)
            other = tuple(a for a in range(3) if a != self.axis)
            frac = fg.mean(axis=other)
            good = np.flatnonzero(frac >= self.min_foreground)
            if good.size:
                candidates = good
        idx = int(np.random.choice(candidates))
        results['img'] = np.ascontiguousarray(np.take(img, idx, axis=ax))
        if results.get('gt_seg') is not None:
            results['gt_seg'] = np.ascontiguousarray(
                np.take(results['gt_seg'], idx, axis=self.axis))
        offset = results.get('canvas_offset') or (0, 0, 0)
        results['slice_index'] = int(offset[self.axis]) + idx
        results['canvas_axis'] = self.axis
        results['img_shape'] = tuple(results['img'].shape[1:])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(axis={self.axis}, skip_empty='
                f'{self.skip_empty}, min_foreground={self.min_foreground})')


@TRANSFORMS.register_module()
class MicsRandomPatch3D(BaseTransform):
    """Random 3D patch of ``size``, padding axes that are too small.

    Along an axis at least ``size`` long, the start is uniform at random.
    Along a shorter axis, the volume is padded symmetrically (extra voxel
    after) with ``pad_value`` (label: 0); then ``canvas_offset`` on that
    axis is **negative**: the patch origin lies before the canvas origin
    (``offset - pad_before``), and patch voxels outside the canvas are
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
            raise ValueError(f'MicsRandomPatch3D: size must be 3 positive '
                             f'ints, got {size}')
        self.size: Tuple[int, int, int] = tuple(int(s) for s in size)
        self.pad_value = pad_value

    def transform(self, results: dict) -> dict:
        """Crop (and pad) ``img`` and ``gt_seg``."""
        img = results['img']
        seg: Optional[np.ndarray] = results.get('gt_seg')
        pads, box, shift = [], [], []
        for dim, size in zip(img.shape[1:], self.size):
            if dim >= size:
                start = int(np.random.randint(0, dim - size + 1))
                pads.append((0, 0))
                box.append(slice(start, start + size))
                shift.append(start)
            else:
                before = (size - dim) // 2
                pads.append((before, size - dim - before))
                box.append(slice(None))
                shift.append(-before)
        box = tuple(box)
        img = img[(slice(None), ) + box]
        if any(p != (0, 0) for p in pads):
            img = np.pad(
                img, [(0, 0)] + pads, constant_values=self.pad_value)
        results['img'] = np.ascontiguousarray(img, dtype=np.float32)
        if seg is not None:
            seg = seg[box]
            if any(p != (0, 0) for p in pads):
                seg = np.pad(seg, pads, constant_values=0)
            results['gt_seg'] = np.ascontiguousarray(seg)
        offset = results.get('canvas_offset') or (0, 0, 0)
        results['canvas_offset'] = tuple(
            int(o) + s for o, s in zip(offset, shift))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, pad_value='
                f'{self.pad_value})')


@TRANSFORMS.register_module()
class MicsPackMRIInputs(BaseTransform):
    """Pack an MRI sample into ``inputs`` and a ``DataSample``.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)`` or ``(C, H, W)``.
    - gt_seg (np.ndarray, optional)
    - case, modalities, canvas_offset, canvas_shape, slice_index,
      canvas_axis (optional): copied into the metainfo when present.

    **Added Keys:**

    - inputs (torch.Tensor): float32 copy of ``img``.
    - data_samples (:obj:`~mmpretrain.structures.DataSample`): metainfo
      as above, ``gt_seg`` as an int64 tensor field when present.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults
            to ``('case', 'modalities', 'canvas_offset', 'canvas_shape',
            'slice_index', 'canvas_axis', 'img_path')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('case', 'modalities',
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
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
