"""Intensity normalisation of MRI studies."""
import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = ['PercentileNormalize']


@TRANSFORMS.register_module()
class PercentileNormalize(BaseTransform):
    """Per-channel percentile scaling to [0, 1].

    For each channel the ``low`` and ``high`` percentiles are mapped to 0
    and 1 (linearly), then the result is clipped to [0, 1] when ``clip``.
    Which voxels the percentiles are computed over, and which are scaled,
    is ``mask``:

    - ``'nonzero'``: the non-zero voxels only; they are scaled and the
      zero (background) voxels stay 0. A channel without non-zero voxels
      stays 0; a channel with ``high == low`` maps its non-zero voxels to
      1.
    - ``'box'``: every voxel of the current array (the box left by the
      crops before), background included, and every voxel is scaled. This
      is BrainMVP's release (MONAI's ``ScaleIntensityRangePercentilesd``,
      channel-wise, after the foreground crop; docs/methods.md, "BrainMVP:
      data and pre-processing"). With ``high == low`` the voxels above
      ``low`` become 1 and the others 0 (the limit of the scaling).
      Background stays 0 when ``low >= 0`` and ``clip`` (the usual case:
      zero background, non-negative MR intensities).

    The two differ when the box holds background: ``'box'`` counts the
    zeros, so its percentiles are lower (often ``low`` is 0) and the tissue
    comes out brighter.

    **Required Keys:**

    - img (np.ndarray): ``(C, ...)``.

    **Modified Keys:**

    - img (float32)

    Args:
        low (float): Lower percentile. Defaults to 5.
        high (float): Upper percentile. Defaults to 95.
        clip (bool): Clip to [0, 1]. Defaults to True.
        mask (str): ``'nonzero'`` or ``'box'`` (see above). Defaults to
            'nonzero'; the BrainMVP pre-training configs use ``'box'``.
    """

    MASKS = ('nonzero', 'box')

    def __init__(self, low: float = 5, high: float = 95,
                 clip: bool = True, mask: str = 'nonzero') -> None:
        if not 0 <= low < high <= 100:
            raise ValueError('PercentileNormalize: need 0 <= low < high '
                             f'<= 100, got low={low}, high={high}')
        if mask not in self.MASKS:
            raise ValueError(f'PercentileNormalize: mask must be one of '
                             f'{self.MASKS}, got {mask!r}')
        self.low, self.high, self.clip = low, high, clip
        self.mask = mask

    def _scale(self, values: np.ndarray, lo: float, hi: float) -> np.ndarray:
        if hi > lo:
            values = (values - lo) / (hi - lo)
        elif self.mask == 'box':
            values = (values > lo).astype(np.float32)
        else:
            values = np.ones_like(values)
        if self.clip:
            values = np.clip(values, 0, 1)
        return values

    def transform(self, results: dict) -> dict:
        """Normalise ``img`` channel by channel."""
        img = np.asarray(results['img'], dtype=np.float32)
        out = np.zeros_like(img)
        for c in range(img.shape[0]):
            ch = img[c]
            if self.mask == 'box':
                if ch.size == 0:
                    continue
                lo, hi = np.percentile(ch, (self.low, self.high))
                out[c] = self._scale(ch, lo, hi)
                continue
            fg = ch != 0
            if not fg.any():
                continue
            lo, hi = np.percentile(ch[fg], (self.low, self.high))
            out[c][fg] = self._scale(ch[fg], lo, hi)
        results['img'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(low={self.low}, high={self.high}'
                f', clip={self.clip}, mask={self.mask!r})')
