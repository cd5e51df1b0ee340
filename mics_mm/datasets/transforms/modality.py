"""Transforms that make or augment the modalities of one sample.

* :class:`SimulatedNBI` makes a narrow-band image from a white-light one
  (for WLI-only data such as Kvasir).
* :class:`SharedModalityTransforms` applies ordinary single-image transforms to
  every modality with the same random parameters (geometry: the modalities
  stay co-registered).
* :class:`PerModalityTransforms` applies them with independent random
  parameters per modality (photometry).
"""
import random
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple
from typing import Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmcv.transforms.utils import cache_random_params, cache_randomness

from mics_mm.registry import TRANSFORMS
from .loading import order_by_modalities

__all__ = [
    'simulate_nbi', 'SimulatedNBI', 'SharedModalityTransforms',
    'PerModalityTransforms'
]


def _enhance_channel(channel: np.ndarray, low_percentile: float,
                     high_percentile: float, min_range: float,
                     clahe_clip_limit: float,
                     clahe_tile_grid: Tuple[int, int],
                     gamma: float) -> np.ndarray:
    """Contrast-enhance one channel (values in [0, 255]) into [0, 1].

    See :func:`simulate_nbi` for the formula.
    """
    c = channel.astype(np.float32)
    lo, hi = np.percentile(c, (low_percentile, high_percentile))
    if hi - lo >= min_range:
        s = np.clip((c - lo) / (hi - lo), 0.0, 1.0)
    else:  # (nearly) flat channel: nothing to stretch
        s = np.clip(c / 255.0, 0.0, 1.0)
    if clahe_clip_limit > 0:
        clahe = cv2.createCLAHE(
            clipLimit=float(clahe_clip_limit),
            tileGridSize=tuple(int(t) for t in clahe_tile_grid))
        s8 = np.round(s * 255.0).astype(np.uint8)
        s = clahe.apply(s8).astype(np.float32) / 255.0
    if gamma != 1.0:
        s = np.power(s, gamma)
    return s


def simulate_nbi(img: np.ndarray,
                 low_percentile: float = 1.0,
                 high_percentile: float = 99.0,
                 min_range: float = 1.0,
                 clahe_clip_limit: float = 1.0,
                 clahe_tile_grid: Tuple[int, int] = (4, 4),
                 gamma_blue: float = 1.6,
                 gamma_green: float = 2.0) -> np.ndarray:
    """Make a simulated narrow-band image from a white-light BGR image.

    Narrow-band imaging lights the mucosa with two narrow bands that
    haemoglobin absorbs strongly: ~415 nm (blue; superficial capillaries) and
    ~540 nm (green; deeper vessels). The NBI display shows the 415 nm signal
    in its G and B channels and the 540 nm signal in R. The WLI blue (B) and
    green (G) channels are the closest available stand-ins for the two bands,
    so, with ``b`` and ``g`` the WLI blue and green channels (values in
    [0, 255]):

    1. robust stretch, for ``c`` in ``(b, g)``: ``lo_c, hi_c`` = the
       ``low_percentile`` / ``high_percentile`` percentiles of ``c`` over the
       image; ``s_c = clip((c - lo_c) / (hi_c - lo_c), 0, 1)``, or
       ``s_c = c / 255`` when ``hi_c - lo_c < min_range`` (flat channel);
    2. local contrast (when ``clahe_clip_limit > 0``):
       ``s_c = CLAHE(round(255 * s_c); clahe_clip_limit,
       clahe_tile_grid) / 255``;
    3. gamma: ``b' = s_b ** gamma_blue``, ``g' = s_g ** gamma_green``;
    4. display mapping (RGB): ``R = 255 g'``, ``G = 255 b'``, ``B = 255 b'``,
       i.e. the BGR output is ``[255 b', 255 b', 255 g']``, rounded.

    The WLI red channel is not used. The result is deterministic.

    Args:
        img (np.ndarray): HxWx3 BGR image, uint8 or float in [0, 255].
        low_percentile (float): Lower percentile of the stretch.
            Defaults to 1.0.
        high_percentile (float): Upper percentile of the stretch.
            Defaults to 99.0.
        min_range (float): Smallest ``hi - lo`` that is stretched.
            Defaults to 1.0.
        clahe_clip_limit (float): CLAHE clip limit; 0 turns CLAHE off.
            Defaults to 1.0.
        clahe_tile_grid (tuple[int, int]): CLAHE tile grid (rows, cols).
            Defaults to (4, 4).
        gamma_blue (float): Gamma of the 415 nm (blue) signal; > 1 darkens
            mid-tones so absorbing vessels stand out. Defaults to 1.6.
        gamma_green (float): Gamma of the 540 nm (green) signal; larger than
            ``gamma_blue`` gives the mucosa the teal tint of NBI displays.
            Defaults to 2.0.

    Returns:
        np.ndarray: The simulated NBI, same shape and dtype as ``img``
        (float inputs give float32 values in [0, 255]).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'simulate_nbi needs an HxWx3 BGR image, got shape '
                         f'{img.shape}')
    if not 0 <= low_percentile < high_percentile <= 100:
        raise ValueError('need 0 <= low_percentile < high_percentile <= 100, '
                         f'got {low_percentile}, {high_percentile}')
    params = dict(
        low_percentile=low_percentile,
        high_percentile=high_percentile,
        min_range=min_range,
        clahe_clip_limit=clahe_clip_limit,
        clahe_tile_grid=clahe_tile_grid)
    b = _enhance_channel(img[..., 0], gamma=gamma_blue, **params)
    g = _enhance_channel(img[..., 1], gamma=gamma_green, **params)
    out = np.stack([b, b, g], axis=-1) * 255.0
    if img.dtype == np.uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out.astype(np.float32)


@TRANSFORMS.register_module()
class SimulatedNBI(BaseTransform):
    """Add a simulated narrow-band image made from the white-light image.

    For WLI-only data (Kvasir) the second modality is computed from the
    first by :func:`simulate_nbi` (formula in its docstring; every constant
    is an argument here). Nothing happens when ``dst`` is already present
    (e.g. a real NBI from the paired layout) unless ``overwrite`` is True.
    Deterministic: the same input gives the same output.

    **Required Keys:**

    - img (dict[str, np.ndarray]): must hold ``src``.
    - modalities (tuple[str], optional): order of the ``img`` dict.

    **Modified Keys:**

    - img: ``dst`` added (HxWx3, same dtype as ``src``).

    Args:
        src (str): The white-light modality. Defaults to 'wli'.
        dst (str): The modality to create. Defaults to 'nbi'.
        overwrite (bool): Replace an existing ``dst`` image.
            Defaults to False.
        low_percentile (float): See :func:`simulate_nbi`. Defaults to 1.0.
        high_percentile (float): See :func:`simulate_nbi`.
            Defaults to 99.0.
        min_range (float): See :func:`simulate_nbi`. Defaults to 1.0.
        clahe_clip_limit (float): See :func:`simulate_nbi`.
            Defaults to 1.0.
        clahe_tile_grid (tuple[int, int]): See :func:`simulate_nbi`.
            Defaults to (4, 4).
        gamma_blue (float): See :func:`simulate_nbi`. Defaults to 1.6.
        gamma_green (float): See :func:`simulate_nbi`. Defaults to 2.0.
    """

    def __init__(self,
                 src: str = 'wli',
                 dst: str = 'nbi',
                 overwrite: bool = False,
                 low_percentile: float = 1.0,
                 high_percentile: float = 99.0,
                 min_range: float = 1.0,
                 clahe_clip_limit: float = 1.0,
                 clahe_tile_grid: Tuple[int, int] = (4, 4),
                 gamma_blue: float = 1.6,
                 gamma_green: float = 2.0) -> None:
        if src == dst:
            raise ValueError(f'src and dst must differ, both are {src!r}')
        self.src = src
        self.dst = dst
        self.overwrite = overwrite
        self.params = dict(
            low_percentile=low_percentile,
            high_percentile=high_percentile,
            min_range=min_range,
            clahe_clip_limit=clahe_clip_limit,
            clahe_tile_grid=tuple(clahe_tile_grid),
            gamma_blue=gamma_blue,
            gamma_green=gamma_green)
        # fail at build time, not in a data-loader worker
        simulate_nbi(np.zeros((2, 2, 3), np.uint8), **self.params)

    def transform(self, results: dict) -> dict:
        """Add ``results['img'][dst]`` when absent.

        Args:
            results (dict): The sample, with ``img`` a dict.

        Returns:
            dict: The sample.
        """
        imgs = results.get('img')
        if not isinstance(imgs, dict):
            raise TypeError('SimulatedNBI needs results["img"] to be a '
                            'dict modality -> image (use '
                            'LoadMultiModalImages)')
        if self.dst in imgs and not self.overwrite:
            return results
        if self.src not in imgs:
            raise KeyError(
                f'SimulatedNBI needs the {self.src!r} image to make '
                f'{self.dst!r}, but the sample {results.get("img_path")!r} '
                f'has only {list(imgs)}')
        imgs = dict(imgs)
        imgs[self.dst] = simulate_nbi(imgs[self.src], **self.params)
        results['img'] = order_by_modalities(imgs, results.get('modalities'))
        return results

    def __repr__(self) -> str:
        params = ', '.join(f'{k}={v}' for k, v in self.params.items())
        return (f"{self.__class__.__name__}(src='{self.src}', "
                f"dst='{self.dst}', overwrite={self.overwrite}, {params})")


def _walk(obj) -> Iterator[BaseTransform]:
    """Yield every :class:`BaseTransform` in ``obj`` (nested wrappers too),
    visiting them as :func:`mmcv.transforms.utils.cache_random_params`
    does."""
    if isinstance(obj, BaseTransform):
        yield obj
    if isinstance(obj, (list, tuple)) or (hasattr(obj, '__iter__')
                                          and isinstance(obj, BaseTransform)):
        for child in obj:
            yield from _walk(child)


class _PerModalityWrapper(BaseTransform):
    """Apply a list of single-image transforms to each modality image.

    Args:
        transforms (list[dict | callable]): Transform configs (built from
            mmpretrain's ``TRANSFORMS``, which also finds mmcv's) or objects.
    """

    def __init__(self, transforms: List[Union[dict, Callable]]) -> None:
        if not isinstance(transforms, (list, tuple)):
            raise TypeError('transforms must be a list of transform configs, '
                            f'got {type(transforms).__name__}')
        built = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ]
        for t in built:
            if not callable(t):
                raise TypeError(f'{t!r} is not a callable transform')
        self.transforms = Compose(built)

    def _run(self, results: dict, modalities: Sequence[str],
             before_each: Callable[[int], None]) -> Optional[dict]:
        """Run the transforms once per modality on a shallow copy of
        ``results`` holding that modality's image.

        Returns:
            dict | None: The first modality's output, with ``img`` replaced by
            the dict of all images (untouched modalities kept), or None if a
            transform dropped the sample.
        """
        imgs = results['img']
        if not isinstance(imgs, dict):
            raise TypeError(f'{self.__class__.__name__} needs results["img"] '
                            'to be a dict modality -> image (use '
                            'LoadMultiModalImages)')
        out_imgs = dict(imgs)
        first = None
        for i, mod in enumerate(modalities):
            before_each(i)
            single = dict(results)
            single['img'] = imgs[mod]
            single = self.transforms(single)
            if single is None:
                return None
            out_imgs[mod] = single['img']
            if first is None:
                first = single
        if first is None:  # no modality touched
            return results
        shapes = {m: tuple(v.shape) for m, v in out_imgs.items()}
        if len(set(shapes.values())) > 1:
            raise RuntimeError(self._shape_error(shapes))
        first['img'] = out_imgs
        if 'img_shape' in first:  # (H, W), whatever the transforms wrote
            first['img_shape'] = tuple(next(iter(shapes.values()))[:2])
        return first

    def _shape_error(self, shapes: Dict[str, tuple]) -> str:
        """The message raised when the modalities end up in different
        shapes."""
        return f'modalities ended up with different shapes {shapes}'

    def __repr__(self) -> str:
        inner = ', '.join(repr(t) for t in self.transforms.transforms)
        return f'{self.__class__.__name__}(transforms=[{inner}])'


@contextmanager
def _shared_random_params(transforms: Compose) -> Iterator[None]:
    """``cache_random_params`` with two repairs for mmcv 2.1.

    1. ``cache_randomness.__set_name__`` appends to the list it inherits, so
       ``RandomResizedCrop._methods_with_randomness`` names
       ``rand_crop_params`` twice (once more for its subclass
       ``EfficientNetRandomCrop``) and ``cache_random_params`` then raises
       "invoked 2 times". Each transform gets a de-duplicated instance list.
    2. On exit, ``cache_random_params`` leaves the wrapped methods as
       instance attributes, which cannot be pickled (data-loader workers
       started with spawn). They are removed again.
    """
    saved = []
    for t in _walk(transforms):
        names = getattr(t, '_methods_with_randomness', None)
        if not names:
            continue
        cls = type(t)
        t._methods_with_randomness = [
            n for n in dict.fromkeys(names) if isinstance(
                _static_attr(cls, n), cache_randomness)
        ]
        for name in t._methods_with_randomness + ['transform']:
            saved.append((t, name, t.__dict__.get(name, _MISSING)))
    try:
        with cache_random_params(transforms):
            yield
    finally:
        for t, name, value in saved:
            if value is _MISSING:
                t.__dict__.pop(name, None)
            else:
                t.__dict__[name] = value


_MISSING = object()


def _static_attr(cls: type, name: str):
    """Look ``name`` up in the class dicts of ``cls``'s MRO (no binding)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


@TRANSFORMS.register_module()
class SharedModalityTransforms(_PerModalityWrapper):
    """Apply transforms to every modality with the SAME random parameters.

    For geometric augmentation (crop, flip, resize, rotation): the images of
    one sample stay co-registered. The transforms run once per modality on a
    shallow copy of ``results`` whose ``img`` is that modality's image,
    inside :func:`mmcv.transforms.utils.cache_random_params`: every method
    decorated with ``@cache_randomness`` (e.g. ``rand_crop_params`` of
    mmpretrain's ``RandomResizedCrop``, ``_choose_direction`` of mmcv's
    ``RandomFlip``) returns for the later modalities what it returned for
    the first. For transforms that draw random numbers outside such methods
    (e.g. ``torchvision/...`` wrappers), ``share_global_rng`` also restores
    the global ``random``, NumPy and torch generator states before each
    modality, so they draw the same numbers. Non-image keys (``img_shape``,
    ``scale_factor``, ``flip``, ...) are taken from the first modality's
    output, except ``img_shape``, which is reset to the (H, W) of the
    images. All modalities must have the same size before and after.
    Do not nest a :class:`PerModalityTransforms` inside.

    **Required Keys:**

    - img (dict[str, np.ndarray])
    - the keys the wrapped transforms require

    **Modified Keys:**

    - img (every modality)
    - the keys the wrapped transforms modify or add (``img_shape``, ...)

    Args:
        transforms (list[dict | callable]): Single-image transforms (configs
            or objects), applied in order.
        share_global_rng (bool): Also replay the global RNG states for every
            modality. Defaults to True.
    """

    def __init__(self,
                 transforms: List[Union[dict, Callable]],
                 share_global_rng: bool = True) -> None:
        super().__init__(transforms)
        self.share_global_rng = share_global_rng

    def transform(self, results: dict) -> Optional[dict]:
        """Apply the transforms to all modalities with shared randomness.

        Args:
            results (dict): The sample, with ``img`` a dict.

        Returns:
            dict | None: The transformed sample (None if dropped).
        """
        state = {}

        def before_each(i: int) -> None:
            if not self.share_global_rng:
                return
            if i == 0:
                state['py'] = random.getstate()
                state['np'] = np.random.get_state()
                state['torch'] = torch.get_rng_state()
            else:
                random.setstate(state['py'])
                np.random.set_state(state['np'])
                torch.set_rng_state(state['torch'])

        with _shared_random_params(self.transforms):
            return self._run(results, list(results['img']), before_each)

    def _shape_error(self, shapes: Dict[str, tuple]) -> str:
        return (f'SharedModalityTransforms produced images of different shapes '
                f'{shapes}: the modalities must have the same size on input, '
                'and every transform must draw its random parameters in a '
                '@cache_randomness method or from the global RNGs.')

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', share_global_rng={self.share_global_rng})')


@TRANSFORMS.register_module()
class PerModalityTransforms(_PerModalityWrapper):
    """Apply transforms to each modality with INDEPENDENT randomness.

    For photometric augmentation (mmpretrain's ``ColorJitter``,
    ``GaussianBlur``, ``Solarize``, mmcv's ``RandomGrayscale``, ...): each
    modality's image draws its own random parameters. The transforms must
    not change the image size (put geometry in
    :class:`SharedModalityTransforms`). Listed modalities that the sample lacks
    are skipped; non-image keys are taken from the first touched modality's
    output.

    **Required Keys:**

    - img (dict[str, np.ndarray])
    - the keys the wrapped transforms require

    **Modified Keys:**

    - img (the modalities in ``modalities``)
    - the keys the wrapped transforms modify or add

    Args:
        transforms (list[dict | callable]): Single-image transforms (configs
            or objects), applied in order.
        modalities (Sequence[str], optional): The modalities to transform.
            Defaults to None (all of them).
    """

    def __init__(self,
                 transforms: List[Union[dict, Callable]],
                 modalities: Optional[Sequence[str]] = None) -> None:
        super().__init__(transforms)
        if isinstance(modalities, str):
            modalities = (modalities, )
        self.modalities = None if modalities is None else tuple(modalities)

    def transform(self, results: dict) -> Optional[dict]:
        """Apply the transforms to each selected modality independently.

        Args:
            results (dict): The sample, with ``img`` a dict.

        Returns:
            dict | None: The transformed sample (None if dropped).
        """
        imgs = results['img']
        if self.modalities is None:
            mods = list(imgs) if isinstance(imgs, dict) else []
        else:
            mods = [m for m in self.modalities
                    if isinstance(imgs, dict) and m in imgs]
        return self._run(results, mods, lambda i: None)

    def _shape_error(self, shapes: Dict[str, tuple]) -> str:
        return (f'PerModalityTransforms produced images of different '
                f'shapes {shapes}: per-modality transforms must not change '
                'the image size or channels (e.g. RandomGrayscale needs '
                'keep_channels=True); put geometric transforms in '
                'SharedModalityTransforms.')

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', modalities={self.modalities})')
