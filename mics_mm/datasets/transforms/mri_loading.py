"""Load the NIfTI volumes of one multi-parametric MRI study.

Arrays are float32 numpy ``(C, X, Y, Z)`` with one channel per modality.
``canvas_offset`` is the position, on the loaded (RAS) canvas, of the
current array's origin; it lets later code index a canvas-sized template
at the sample's position (BrainMVP's modality templates).
"""
import warnings
from typing import Optional

import nibabel as nib
import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = ['load_nifti', 'LoadMRIStudy']


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
