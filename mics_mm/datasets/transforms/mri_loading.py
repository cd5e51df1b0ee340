"""Load the NIfTI volumes of one multi-parametric MRI study.

Arrays are float32 numpy ``(C, X, Y, Z)`` with one channel per modality.
``canvas_offset`` is the position, on the loaded (RAS) canvas, of the
current array's origin; it lets later code index a canvas-sized template
at the sample's position (BrainMVP's modality templates). The RAS
``affine`` travels with the study so that ``ResampleToSpacing`` can bring
it to a voxel size and ``PlaceOnCanvas`` onto the template canvas
(docs/methods.md, "BrainMVP: data and pre-processing").
"""
import warnings
from typing import Optional, Tuple, Union

import nibabel as nib
import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = ['voxel_sizes', 'load_nifti', 'LoadMRIStudy']


def voxel_sizes(affine: np.ndarray) -> Tuple[float, float, float]:
    """Voxel size in mm along each array axis of a 4x4 ``affine``."""
    affine = np.asarray(affine, dtype=np.float64)
    return tuple(float(v) for v in np.sqrt((affine[:3, :3]**2).sum(axis=0)))


def load_nifti(path: str,
               reorient_ras: bool = True,
               nan_policy: str = 'zero',
               warned: Optional[set] = None,
               owner: str = 'LoadMRIStudy',
               return_affine: bool = False
               ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
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
        return_affine (bool): Also return the 4x4 voxel-to-world affine of
            the (reoriented) volume. Defaults to False.

    Returns:
        np.ndarray | tuple: ``(X, Y, Z)`` float32, and with
        ``return_affine`` the float64 affine as well.

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
    if return_affine:
        return data, np.asarray(img.affine, dtype=np.float64)
    return data


@TRANSFORMS.register_module()
class LoadMRIStudy(BaseTransform):
    """Load the NIfTI volumes of one study with nibabel.

    Each file is read, a trailing singleton 4th dimension is squeezed (a
    documented repair; a real 4D series raises), and, with
    ``reorient_ras``, the volume is turned to the closest RAS orientation
    (:func:`nibabel.as_closest_canonical`, axis flips / permutations only,
    no resampling: ``ResampleToSpacing`` does that). All modalities (and
    the label) must lie on one grid: the same 3D shape and the same voxel
    size (within ``spacing_tol`` mm), else a ``ValueError`` names both
    files; co-register such a study first. An unreadable file raises
    ``OSError`` naming it. NaN / inf voxels are replaced by 0 with a
    warning (once per file) when ``nan_policy='zero'``, or raise a
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
    - affine (np.ndarray): 4x4 float64 voxel-to-world (mm) affine of the
      (reoriented) grid, that of the first modality.
    - spacing (tuple[float, float, float]): voxel size in mm.
    - canvas_shape (tuple[int, int, int]): ``(X, Y, Z)``.
    - canvas_offset (tuple[int, int, int]): ``(0, 0, 0)``.

    Args:
        reorient_ras (bool): Reorient to RAS. Defaults to True.
        nan_policy (str): ``'zero'`` or ``'error'``. Defaults to 'zero'.
        label_map (dict, optional): Label value -> training index, e.g.
            ``{0: 0, 1: 1, 2: 2, 4: 3}`` for BraTS 2018-2021 (whose
            enhancing tumour is 4). A label value not in the map raises,
            naming the file. Defaults to None (labels as stored).
        spacing_tol (float): Largest voxel-size difference in mm between
            the files of one study. Defaults to 1e-3.
    """

    def __init__(self, reorient_ras: bool = True,
                 nan_policy: str = 'zero',
                 label_map: Optional[dict] = None,
                 spacing_tol: float = 1e-3) -> None:
        if nan_policy not in ('zero', 'error'):
            raise ValueError("LoadMRIStudy: nan_policy must be 'zero' or "
                             f"'error', got {nan_policy!r}")
        self.reorient_ras = reorient_ras
        self.nan_policy = nan_policy
        self.label_map = {int(k): int(v)
                          for k, v in label_map.items()} if label_map else None
        self.spacing_tol = float(spacing_tol)
        self._warned = set()

    def _load(self, path: str) -> Tuple[np.ndarray, np.ndarray]:
        return load_nifti(path, self.reorient_ras, self.nan_policy,
                          self._warned, return_affine=True)

    def _check_grid(self, first: tuple, path: str, vol: np.ndarray,
                    affine: np.ndarray, what: str) -> None:
        """Raise unless ``vol`` lies on the grid of the first modality."""
        ref_path, ref_shape, ref_affine = first
        if vol.shape != ref_shape:
            raise ValueError(
                f'LoadMRIStudy: {ref_path!r} has shape {ref_shape} but '
                f'{what} {path!r} has shape {vol.shape} after reorientation; '
                'co-register (resample) the study so that all its files '
                'share one grid.')
        ref, got = voxel_sizes(ref_affine), voxel_sizes(affine)
        if np.abs(np.subtract(ref, got)).max() > self.spacing_tol:
            raise ValueError(
                f'LoadMRIStudy: {ref_path!r} has voxel size '
                f'{tuple(round(v, 4) for v in ref)} mm but {what} {path!r} '
                f'has {tuple(round(v, 4) for v in got)} mm (same shape '
                f'{vol.shape}); co-register (resample) the study so that '
                'all its files share one grid.')

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
            dict: With ``img``, ``modalities``, ``affine``, ``spacing``,
            ``canvas_shape``, ``canvas_offset`` (and ``gt_seg``).
        """
        paths = results['img_path']
        if not isinstance(paths, dict) or not paths:
            raise TypeError('LoadMRIStudy: img_path must be a non-empty '
                            f'dict modality -> file, got {paths!r}')
        mods = tuple(results.get('modalities') or paths)
        vols, first = [], None
        for mod in mods:
            path = paths[mod]
            vol, affine = self._load(path)
            if first is None:
                first = (path, vol.shape, affine)
            else:
                self._check_grid(first, path, vol, affine, 'modality file')
            vols.append(vol)
        results['img'] = np.ascontiguousarray(np.stack(vols, axis=0))
        results['modalities'] = mods
        seg_path = results.get('seg_path')
        if seg_path:
            seg, affine = self._load(seg_path)
            self._check_grid(first, seg_path, seg, affine, 'label')
            seg = np.rint(seg).astype(np.int64)
            if self.label_map is not None:
                seg = self._map_labels(seg, seg_path)
            results['gt_seg'] = seg
        results['affine'] = first[2]
        results['spacing'] = voxel_sizes(first[2])
        results['canvas_shape'] = tuple(int(s) for s in first[1])
        results['canvas_offset'] = (0, 0, 0)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reorient_ras={self.reorient_ras}'
                f', nan_policy={self.nan_policy!r}, label_map='
                f'{self.label_map}, spacing_tol={self.spacing_tol})')
