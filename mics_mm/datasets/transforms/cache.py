"""Memoise the deterministic head of a pipeline per sample."""
import copy
from collections import OrderedDict
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mics_mm.registry import TRANSFORMS

__all__ = ['CachedCompose']


@TRANSFORMS.register_module()
class CachedCompose(BaseTransform):
    """Run ``transforms`` once per sample and keep the result in memory.

    Reading and normalising a multi-parametric MRI study costs far more
    than drawing a slice or a patch from it, and a training epoch draws
    from the same studies again and again. Wrap the *deterministic* head of
    the pipeline (loading, orientation, percentile normalisation, channel
    arrangement: no random transform) in this transform; the random tail
    then works on a copy of the cached result. The cache lives in each
    process (every data-loader worker has its own; use
    ``persistent_workers=True`` to keep it across epochs), holds at most
    ``max_items`` samples (least recently used out) and returns copies, so
    later transforms can never alter it. Only the keys the transforms set
    (new or replaced values) are cached; the other keys of each item (e.g.
    ``slice_index``, which differs between items of one study) pass through
    untouched.

    Args:
        transforms (Sequence[dict]): Deterministic transforms to memoise.
        keys (Sequence[str]): Input keys that identify a sample. Defaults to
            ``('img_path', 'seg_path')``.
        max_items (int): Samples kept per process. Defaults to 16.
    """

    def __init__(self,
                 transforms: Sequence[dict],
                 keys: Sequence[str] = ('img_path', 'seg_path'),
                 max_items: int = 16) -> None:
        if max_items < 1:
            raise ValueError(f'CachedCompose: max_items must be >= 1, '
                             f'got {max_items}')
        self.pipeline = Compose(list(transforms))
        self.keys = tuple(keys)
        self.max_items = int(max_items)
        self._cache: 'OrderedDict[Tuple, dict]' = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _key(self, results: dict) -> Tuple:
        parts = []
        for key in self.keys:
            value = results.get(key)
            if isinstance(value, dict):
                value = tuple(sorted(value.items()))
            elif isinstance(value, list):
                value = tuple(value)
            parts.append(value)
        return tuple(parts)

    @staticmethod
    def _copy(results: dict) -> dict:
        return {
            k: v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)
            for k, v in results.items()
        }

    def transform(self, results: dict) -> dict:
        """Return a copy of the cached result (computing it if needed)."""
        key = self._key(results)
        cached = self._cache.get(key)
        if cached is None:
            self.misses += 1
            inputs = self._copy(results)
            before = dict(inputs)
            out = self.pipeline(inputs)
            if out is None:
                return None
            # Keep only what the transforms set: item keys that differ
            # between items of one study (e.g. slice_index) stay per item.
            cached = {
                k: v
                for k, v in out.items() if k not in before or v is not before[k]
            }
            self._cache[key] = cached
            if len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        else:
            self.hits += 1
            self._cache.move_to_end(key)
        out = dict(results)
        out.update(self._copy(cached))
        return out

    def __getstate__(self):
        # Workers start with an empty cache (nothing large is pickled).
        state = self.__dict__.copy()
        state['_cache'] = OrderedDict()
        return state

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.pipeline}, '
                f'keys={self.keys}, max_items={self.max_items})')
