"""Intensity normalisation of MRI studies."""
import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = ['PercentileNormalize']


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
