"""Transforms for multi-parametric MRI studies (3D volumes, 2D slices).

Arrays are float32 numpy ``(C, X, Y, Z)`` with one channel per modality.
``canvas_offset`` is the position, on the loaded (RAS) canvas, of the
current array's origin; it lets later code index a canvas-sized template
at the sample's position (BrainMVP's modality templates).
"""
import warnings
from typing import Optional, Sequence

import nibabel as nib
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

from ...structures import canonical_modality

__all__ = [
    'load_nifti', 'LoadMRIStudy', 'PercentileNormalize',
    'ForegroundCrop', 'SampleModalities', 'ArrangeModalities',
    'PackMRIInputs'
]


def load_nifti(path: str,
               reorient_ras: bool = True,
               nan_policy: str = 'zero',
               warned: Optional[set] = None,
               owner: str = 'LoadMRIStudy') -> np.ndarray:
    """Read one 3D NIfTI volume as float32 (see :class:`LoadMRIStudy`).

    A trailing singleton 4th dimension is squeezed; other 4D files raise.
    With ``reorient_ras`` the volume is turned to the closest RAS
    orientation. NaN / inf voxels become 0 with one warning per file
    (``nan_policy='zero'``, the file is added to ``warned``) or raise
    (``'error'``).

    Args:
        path (str): The file.
        reorient_ras (bool): Reorient to RAS. Defaults to True.
        nan_policy (str): ``'zero'`` or ``'error'``. Defaults to 'zero'.
        warned (set, optional): Files already warned about.
        owner (str): Name used in messages. Defaults to 'LoadMRIStudy'.

    Returns:
        np.ndarray: ``(X, Y, Z)`` float32.

    Raises:
        OSError: The file cannot be read (names it).
        ValueError: Not a 3D volume, or NaN voxels with ``'error'``.
    """
    try:
        img = nib.load(path)
        shape = tuple(img.shape)
    except Exception as err:  # noqa: BLE001 (any read / decode error)
        raise OSError(f'{owner}: cannot read NIfTI file {path!r} '
                      f'({type(err).__name__}: {err}); re-export or remove '
                      'it.') from err
    if len(shape) == 4 and shape[3] == 1:
        img = nib.funcs.squeeze_image(img)
    if len(img.shape) != 3:
        raise ValueError(
            f'{owner}: {path!r} has shape {shape}, not a 3D volume; split '
            'the series and list one 3D volume per modality.')
    try:
        if reorient_ras:
            img = nib.as_closest_canonical(img)
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as err:  # noqa: BLE001 (truncated data, ...)
        raise OSError(f'{owner}: cannot read NIfTI file {path!r} '
                      f'({type(err).__name__}: {err}); re-export or remove '
                      'it.') from err
    bad = ~np.isfinite(data)
    if bad.any():
        if nan_policy == 'error':
            raise ValueError(
                f'{owner}: {path!r} has {int(bad.sum())} NaN/inf voxels; '
                "clean the file or use nan_policy='zero'.")
        if warned is None or path not in warned:
            warnings.warn(f'{owner}: {path!r} has {int(bad.sum())} NaN/inf '
                          'voxels, set to 0.')
            if warned is not None:
                warned.add(path)
        data = np.where(bad, np.float32(0), data)
    return data


@TRANSFORMS.register_module()
class LoadMRIStudy(BaseTransform):
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
        label_map (dict, optional): Label value -> training index, e.g.
            ``{0: 0, 1: 1, 2: 2, 4: 3}`` for BraTS 2018-2021 (whose
            enhancing tumour is 4). A label value not in the map raises,
            naming the file. Defaults to None (labels as stored).
    """

    def __init__(self, reorient_ras: bool = True,
                 nan_policy: str = 'zero',
                 label_map: Optional[dict] = None) -> None:
        if nan_policy not in ('zero', 'error'):
            raise ValueError("LoadMRIStudy: nan_policy must be 'zero' or "
                             f"'error', got {nan_policy!r}")
        self.reorient_ras = reorient_ras
        self.nan_policy = nan_policy
        self.label_map = {int(k): int(v)
                          for k, v in label_map.items()} if label_map else None
        self._warned = set()

    def _load(self, path: str) -> np.ndarray:
        return load_nifti(path, self.reorient_ras, self.nan_policy,
                          self._warned)

    def _map_labels(self, seg: np.ndarray, path: str) -> np.ndarray:
        values = np.unique(seg)
        unknown = [int(v) for v in values if int(v) not in self.label_map]
        if unknown:
            raise ValueError(
                f'LoadMRIStudy: label file {path!r} has values {unknown} '
                f'that label_map={self.label_map} does not map; add them.')
        out = np.zeros_like(seg)
        for value in values:
            out[seg == value] = self.label_map[int(value)]
        return out

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
            raise TypeError('LoadMRIStudy: img_path must be a non-empty '
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
                    f'LoadMRIStudy: {first[0]!r} has shape {first[1]} '
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
                    f'LoadMRIStudy: {first[0]!r} has shape {first[1]} '
                    f'but label {seg_path!r} has shape {seg.shape}; '
                    'co-register the label with the images.')
            seg = np.rint(seg).astype(np.int64)
            if self.label_map is not None:
                seg = self._map_labels(seg, seg_path)
            results['gt_seg'] = seg
        results['canvas_shape'] = tuple(int(s) for s in first[1])
        results['canvas_offset'] = (0, 0, 0)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reorient_ras={self.reorient_ras}'
                f', nan_policy={self.nan_policy!r}, label_map='
                f'{self.label_map})')


@TRANSFORMS.register_module()
class PercentileNormalize(BaseTransform):
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
            raise ValueError('PercentileNormalize: need 0 <= low < high '
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
class ForegroundCrop(BaseTransform):
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
class SampleModalities(BaseTransform):
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
            raise ValueError(f'SampleModalities: num must be >= 1, got '
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
class ArrangeModalities(BaseTransform):
    """Put a study's channels in a fixed modality order for a downstream
    model; a modality the study lacks becomes a zero channel.

    Downstream models take fixed input channels (e.g. flair, t1, t1c, t2);
    BrainMVP's templates then substitute the missing ones
    (``MRISegDataPreprocessor`` / ``MRIDataPreprocessor`` fill the
    zero channels listed in ``missing_modalities``; METHODS.md §2,
    "templates substitute missing modalities at fine-tuning"). Channels of
    modalities not in ``modalities`` are dropped. Use with
    ``BrainMRIDataset(modalities=..., allow_missing=True)``.

    **Required Keys:**

    - img (np.ndarray): ``(C, ...)``.
    - modalities (tuple[str]): names of the C channels (aliases allowed).

    **Modified Keys:**

    - img: ``(len(modalities), ...)``.
    - modalities: ``modalities`` (canonical names).

    **Added Keys:**

    - missing_modalities (tuple[str]): the zero channels.

    Args:
        modalities (Sequence[str]): Output channel order.
        allow_missing (bool): False raises when a modality is missing.
            Defaults to True.
    """

    def __init__(self, modalities: Sequence[str],
                 allow_missing: bool = True) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        self.modalities = tuple(canonical_modality(m) for m in modalities)
        if not self.modalities or len(set(self.modalities)) != len(
                self.modalities):
            raise ValueError('ArrangeModalities: modalities must be '
                             f'distinct names, got {modalities}')
        self.allow_missing = allow_missing

    def transform(self, results: dict) -> dict:
        """Reorder / zero-fill the channels."""
        img = results['img']
        have = [canonical_modality(m) for m in results['modalities']]
        missing = tuple(m for m in self.modalities if m not in have)
        where = results.get('case') or results.get('img_path')
        if len(missing) == len(self.modalities):
            raise ValueError(
                f'ArrangeModalities: study {where!r} has none of '
                f'{self.modalities} (it has {tuple(have)}).')
        if missing and not self.allow_missing:
            raise ValueError(
                f'ArrangeModalities: study {where!r} lacks {missing}; '
                'set allow_missing=True to let templates (or zeros) stand in.')
        out = np.zeros((len(self.modalities), *img.shape[1:]), np.float32)
        for c, mod in enumerate(self.modalities):
            if mod in have:
                out[c] = img[have.index(mod)]
        results['img'] = out
        results['modalities'] = self.modalities
        results['missing_modalities'] = missing
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'allow_missing={self.allow_missing})')


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
