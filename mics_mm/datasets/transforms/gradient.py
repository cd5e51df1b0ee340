"""A second modality made from a grey image: its gradient magnitude."""
import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS
from .loading import order_by_modalities

__all__ = ['gradient_magnitude', 'GradientMagnitude']


def gradient_magnitude(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an image, scaled to fill 0..255.

    ``g = sqrt(Sx^2 + Sy^2)`` of the grey image (3 x 3 Sobel, reflected
    border), divided by its maximum over the image (an image without any
    edge gives zeros) and repeated on three channels: a different contrast
    of the same object, with the same geometry. Deterministic.

    Args:
        img (np.ndarray): HxW or HxWx3 uint8 image (channels averaged).

    Returns:
        np.ndarray: HxWx3 uint8.
    """
    grey = img.astype(np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy)
    peak = float(mag.max())
    out = np.zeros_like(mag) if peak == 0 else mag * (255.0 / peak)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


@TRANSFORMS.register_module()
class GradientMagnitude(BaseTransform):
    """Add the gradient-magnitude image of ``src`` as modality ``dst``
    (:func:`gradient_magnitude`): the second modality of the Fashion-MNIST
    learning check (docs/benchmarks.md). Put it before any augmentation,
    as ``SimulatedNBI``.

    **Required Keys:** img (dict[str, np.ndarray] holding ``src``),
    modalities (optional, the order of ``img``).

    **Modified Keys:** img (``dst`` added).

    Args:
        src (str): Source modality. Defaults to 'image'.
        dst (str): Modality to create. Defaults to 'gradient'.
    """

    def __init__(self, src: str = 'image', dst: str = 'gradient') -> None:
        if src == dst:
            raise ValueError(f'src and dst must differ, both are {src!r}')
        self.src, self.dst = src, dst

    def transform(self, results: dict) -> dict:
        imgs = results.get('img')
        if not isinstance(imgs, dict) or self.src not in imgs:
            raise KeyError(
                f'GradientMagnitude needs results["img"] to be a dict with '
                f'the {self.src!r} image; sample {results.get("img_path")!r} '
                f'has {list(imgs) if isinstance(imgs, dict) else type(imgs)}')
        imgs = dict(imgs)
        imgs[self.dst] = gradient_magnitude(imgs[self.src])
        results['img'] = order_by_modalities(imgs, results.get('modalities'))
        return results

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(src='{self.src}', "
                f"dst='{self.dst}')")
