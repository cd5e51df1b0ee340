"""Load the co-registered images of one multimodal sample."""
import warnings
from typing import Dict, Iterable, Optional, Sequence

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

__all__ = ['ImageLoadError', 'LoadMultiModalImages']

_FIX_HINT = ('re-export the image or remove it and re-run '
             'tools/data/make_splits.py')


class ImageLoadError(OSError):
    """An image file of a sample is missing, empty or cannot be decoded."""


def order_by_modalities(imgs: Dict[str, np.ndarray],
                        modalities: Optional[Iterable[str]]) -> dict:
    """Return ``imgs`` re-ordered as ``modalities``, extra keys last.

    Args:
        imgs (dict[str, np.ndarray]): Images keyed by modality.
        modalities (Iterable[str], optional): The wanted order. Modalities
            absent from ``imgs`` are skipped. Defaults to the order of
            ``imgs`` when None.

    Returns:
        dict[str, np.ndarray]: A new dict with the same items.
    """
    order = [m for m in (modalities or ()) if m in imgs]
    order += [m for m in imgs if m not in order]
    return {m: imgs[m] for m in order}


def as_three_channels(img: np.ndarray) -> np.ndarray:
    """Make a decoded image HxWx3: grey is repeated, alpha is dropped.

    Args:
        img (np.ndarray): HxW, HxWx1, HxWx3 or HxWx4 image.

    Returns:
        np.ndarray: The HxWx3 image (the input itself when already so).
    """
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.shape[2] == 4:
        return np.ascontiguousarray(img[..., :3])
    return img


@TRANSFORMS.register_module()
class LoadMultiModalImages(BaseTransform):
    """Load every modality image of a sample from its file.

    ``img_path`` maps modality names to files, e.g. ``{'wli': 'a.jpg'}`` for
    a WLI-only Kvasir sample or ``{'wli': 'a.png', 'nbi': 'b.png'}`` for the
    MICS paired layout. Each file is read with :func:`mmengine.fileio.get`
    and decoded with :func:`mmcv.imfrombytes`. The images are stored as a
    dict ordered as ``results['modalities']`` (modalities that have no file
    are simply absent: a later transform such as ``SimulatedNBI`` adds
    them). A plain string ``img_path`` is taken as the image of the first
    modality.

    Every image is returned as HxWx3 (BGR): with the default
    ``color_type='color'`` the decoder already turns grey images into three
    equal channels, drops an alpha channel and decodes 16-bit images to 8
    bit (``value >> 8``); with other ``color_type`` values a single-channel
    result is repeated three times and an alpha channel is dropped, so all
    modalities share one layout. Any size is read as it is: the pipeline's
    crop / resize then upsamples a tiny image (2 x 2 becomes the training
    size) and cuts a huge one down; a huge image (6000 x 6000) costs
    seconds per sample when transforms run on the full image before the
    crop (``SimulatedNBI`` in the MICS pipelines), so resize such data
    offline. (The bad-input corpus, ``tools/data/make_bad_inputs.py``,
    has one file of each kind; docs/reliability.md.)

    If the modalities of one sample differ in size, ``size_mismatch``
    decides: ``'resize'`` resizes every other modality to the size of the
    first one (bilinear; a documented repair, warned once per transform
    instance), ``'error'`` raises a :class:`ValueError` naming both files and
    sizes.

    A missing, empty or undecodable file raises :class:`ImageLoadError`
    (a subclass of :class:`OSError`) naming the file and the fix.

    **Required Keys:**

    - img_path (dict[str, str] | str)
    - modalities (tuple[str], optional)

    **Added Keys:**

    - img (dict[str, np.ndarray]): HxWx3 images keyed by modality.
    - img_shape (tuple[int, int]): (H, W) common to all modalities.
    - ori_shape (tuple[int, int]): (H, W) of the first modality as loaded.

    Args:
        to_float32 (bool): Whether to convert the images to float32 (values
            stay in [0, 255]). Defaults to False (uint8).
        color_type (str): The ``flag`` of :func:`mmcv.imfrombytes`.
            Defaults to 'color'.
        imdecode_backend (str): The ``backend`` of :func:`mmcv.imfrombytes`.
            Defaults to 'cv2'.
        size_mismatch (str): ``'resize'`` or ``'error'``, see above.
            Defaults to 'resize'.
        file_client_args (dict, optional): Deprecated alias of
            ``backend_args`` kept for old configs. Defaults to None.
        backend_args (dict, optional): Arguments of the file backend, see
            :func:`mmengine.fileio.get`. Defaults to None (local files).
    """

    def __init__(self,
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 size_mismatch: str = 'resize',
                 file_client_args: Optional[dict] = None,
                 backend_args: Optional[dict] = None) -> None:
        if size_mismatch not in ('resize', 'error'):
            raise ValueError("size_mismatch must be 'resize' or 'error', "
                             f'got {size_mismatch!r}')
        if file_client_args is not None and backend_args is not None:
            raise ValueError('"file_client_args" and "backend_args" cannot '
                             'be set at the same time.')
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.size_mismatch = size_mismatch
        self.file_client_args = file_client_args
        self.backend_args = (backend_args if backend_args is not None else
                             file_client_args)
        self._warned_resize = False

    def _load(self, path: str) -> np.ndarray:
        """Read and decode one file, raising :class:`ImageLoadError`."""
        try:
            content = fileio.get(path, backend_args=self.backend_args)
        except Exception as e:  # missing file, permission, backend error
            raise ImageLoadError(
                f'Cannot read image file {path!r} ({type(e).__name__}: {e}); '
                f'{_FIX_HINT}.') from e
        if len(content) == 0:
            raise ImageLoadError(
                f'Image file {path!r} is empty (0 bytes); {_FIX_HINT}.')
        try:
            img = mmcv.imfrombytes(
                content, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:
            raise ImageLoadError(
                f'Cannot decode image file {path!r} ({type(e).__name__}: '
                f'{e}); {_FIX_HINT}.') from e
        if img is None or img.size == 0:
            raise ImageLoadError(
                f'Cannot decode image file {path!r} (corrupt or not an '
                f'image); {_FIX_HINT}.')
        return as_three_channels(img)

    def transform(self, results: dict) -> dict:
        """Load the images of all modalities of one sample.

        Args:
            results (dict): The sample, with ``img_path``.

        Returns:
            dict: The sample with ``img``, ``img_shape`` and ``ori_shape``.
        """
        modalities: Sequence[str] = results.get('modalities') or ('wli', )
        paths = results['img_path']
        if isinstance(paths, str):
            paths = {modalities[0]: paths}
        if not isinstance(paths, dict) or not paths:
            raise TypeError('img_path must be a non-empty dict modality -> '
                            f'file, got {paths!r}')
        paths = order_by_modalities(paths, modalities)

        imgs = {}
        first_mod, first_shape = None, None
        for mod, path in paths.items():
            img = self._load(path)
            if first_mod is None:
                first_mod, first_shape = mod, img.shape[:2]
            elif img.shape[:2] != first_shape:
                if self.size_mismatch == 'error':
                    raise ValueError(
                        f'Modalities of one sample differ in size: '
                        f'{first_mod} {paths[first_mod]!r} is '
                        f'{first_shape[0]}x{first_shape[1]} (HxW) but {mod} '
                        f'{path!r} is {img.shape[0]}x{img.shape[1]}; '
                        "re-export co-registered images or use "
                        "size_mismatch='resize'.")
                if not self._warned_resize:
                    warnings.warn(
                        f'{mod} image {path!r} ({img.shape[0]}x'
                        f'{img.shape[1]}) resized to the {first_mod} size '
                        f'{first_shape[0]}x{first_shape[1]}; further '
                        'mismatches are resized silently.')
                    self._warned_resize = True
                img = mmcv.imresize(
                    img, (first_shape[1], first_shape[0]),
                    interpolation='bilinear')
            if self.to_float32:
                img = img.astype(np.float32)
            imgs[mod] = img

        results['img'] = imgs
        results['img_shape'] = tuple(first_shape)
        results['ori_shape'] = tuple(first_shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(to_float32={self.to_float32}, '
                f"color_type='{self.color_type}', "
                f"imdecode_backend='{self.imdecode_backend}', "
                f"size_mismatch='{self.size_mismatch}', "
                f'backend_args={self.backend_args})')
