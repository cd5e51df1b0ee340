"""Put an MRI study on the canvas of BrainMVP's modality templates.

The templates are volumes on one fixed canvas (SRI24: 240 x 240 x 155 at
1 mm); a sample picks its piece of a template by its position on that
canvas (``canvas_offset``, and ``slice_index`` for 2D slices). BraTS
studies already lie on that grid. BrainMVP's release places any other
study, after resampling to 1 mm, **centred** on the canvas: the template
piece of a patch starts at the patch's position in the cropped volume plus
``(canvas - volume) // 2`` (docs/methods.md, "BrainMVP: data and
pre-processing"). :class:`PlaceOnCanvas` records that placement.
"""
import logging
from typing import Sequence

from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mics_mm.registry import TRANSFORMS

from .mri_geometry import crop_or_pad, require_whole_grid

__all__ = ['PlaceOnCanvas']


@TRANSFORMS.register_module()
class PlaceOnCanvas(BaseTransform):
    """Centre the study on a fixed canvas and record its position there.

    Along each axis where the volume is at most the canvas, the volume is
    centred: its origin lies at ``(canvas - size) // 2`` on the canvas (the
    extra voxel of an odd difference after it, as :func:`crop_or_pad` and
    the release). Along an axis where the volume is larger, it is
    centre-cropped to the canvas (the anatomy outside the canvas is lost;
    logged once per study and process, at warning level). Without ``pad``
    nothing is padded here: ``canvas_offset`` records the centring, and a
    later ``RandomPatch3D`` / ``CropPad`` pads what it needs and reports
    positions on the canvas, which the templates then use. With ``pad``
    the array is padded with ``pad_value`` to the full canvas
    (``canvas_offset`` then zeros).

    Put it right after ``LoadMRIStudy`` / ``ResampleToSpacing``, before
    any crop (it raises otherwise): it centres the whole grid, so a study
    already on the canvas grid (BraTS on SRI24) stays where it is.

    **Required Keys:**

    - img (np.ndarray): ``(C, X, Y, Z)``.
    - gt_seg (np.ndarray, optional)
    - case (str, optional): names the study in the log.
    - canvas_shape, canvas_offset (optional): the loaded grid.

    **Modified Keys:**

    - img, gt_seg: centre-cropped where larger than the canvas (and padded
      to it with ``pad``).
    - canvas_shape: ``canvas``.
    - canvas_offset: position of the array's origin on the canvas.

    Args:
        canvas (Sequence[int]): Canvas shape in voxels of the current
            spacing; must equal the templates' canvas
            (``model.templates.canvas``). Defaults to (240, 240, 155), the
            SRI24 canvas at 1 mm.
        pad (bool): Pad the array to the whole canvas. Defaults to False
            (only record the position: less memory, and the percentiles
            of a later ``PercentileNormalize(mask='box')`` do not count
            the padding).
        pad_value (float): Image padding with ``pad``. Defaults to 0.
    """

    def __init__(self,
                 canvas: Sequence[int] = (240, 240, 155),
                 pad: bool = False,
                 pad_value: float = 0) -> None:
        canvas = tuple(int(c) for c in canvas)
        if len(canvas) != 3 or min(canvas) < 1:
            raise ValueError('PlaceOnCanvas: canvas must be 3 positive '
                             f'ints, got {canvas}')
        self.canvas = canvas
        self.pad = bool(pad)
        self.pad_value = pad_value
        self._logged = set()

    def _log_crop(self, results: dict, shape: tuple) -> None:
        """Say once per study that it was cut to the canvas."""
        case = results.get('case')
        if case is None:
            paths = results.get('img_path') or {}
            case = next(iter(paths.values()), None) if isinstance(
                paths, dict) else paths
        if case in self._logged:
            return
        self._logged.add(case)
        axes = [
            f'{"XYZ"[a]} {shape[a]} -> {self.canvas[a]}' for a in range(3)
            if shape[a] > self.canvas[a]
        ]
        spacing = results.get('spacing')
        where = f' at {tuple(round(s, 3) for s in spacing)} mm' \
            if spacing is not None else ''
        print_log(
            f'PlaceOnCanvas: study {case!r} ({shape} voxels{where}) is '
            f'larger than the {self.canvas} canvas; centre-cropped along '
            f'{", ".join(axes)} (the voxels outside the canvas are not '
            'used). Register the study to the template space, or enlarge '
            'the canvas (here and in model.templates.canvas), to keep them.',
            logger='current',
            level=logging.WARNING)

    def transform(self, results: dict) -> dict:
        """Place ``img`` (and ``gt_seg``) on the canvas."""
        require_whole_grid(results, 'PlaceOnCanvas')
        img = results['img']
        shape = tuple(int(s) for s in img.shape[1:])
        if any(s > c for s, c in zip(shape, self.canvas)):
            self._log_crop(results, shape)
        size = self.canvas if self.pad else tuple(
            min(s, c) for s, c in zip(shape, self.canvas))
        if size != shape:
            img, seg, _ = crop_or_pad(img, results.get('gt_seg'), size,
                                      random=False,
                                      pad_value=self.pad_value)
            results['img'] = img
            if seg is not None:
                results['gt_seg'] = seg
        results['canvas_offset'] = tuple(
            max((c - s) // 2, 0) for s, c in zip(img.shape[1:], self.canvas))
        results['canvas_shape'] = self.canvas
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(canvas={self.canvas}, pad='
                f'{self.pad}, pad_value={self.pad_value})')
