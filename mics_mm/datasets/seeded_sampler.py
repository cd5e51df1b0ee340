"""Augmentation randomness that depends only on (seed, epoch, sample).

mmengine's ``DefaultSampler`` decides *which* samples a rank sees; the
random draws of the data pipeline (crops, flips, jitter, slices, ...) come
from whatever process runs it: the main process with ``num_workers=0``, a
worker otherwise. A worker's generators are seeded once when it starts
(``seed + num_workers * rank + worker_id``), so the draws depend on the
worker count, on which worker gets which batch, and, with
``persistent_workers=True``, on everything the worker drew in earlier epochs,
which a resumed run cannot replay. Without persistent workers every epoch
restarts its workers from the same seeds and repeats the previous epoch's
draws (docs/reliability.md).

:class:`SeededSampler` makes every sample's draws a function of
``(seed, epoch, index)`` alone:

- it yields the same indices as ``DefaultSampler`` (same shuffle, same
  ``round_up`` padding, same split over ranks) as :class:`SeededIndex`
  objects: plain ``int`` s that also carry the sampler's seed, the epoch
  (``set_epoch``, called by mmengine's ``DistSamplerSeedHook`` and by the
  loops) and, for the copies ``round_up`` adds, how many copies came before;
- it gives its dataset a ``__getitems__`` (torch's ``DataLoader`` fetches a
  batch through it, in the main process or in a worker): every sample runs
  with Python's ``random``, NumPy's global generator and torch's CPU
  generator seeded from a hash of ``(seed, epoch, index, copy)``; in the
  main process (``num_workers=0``) the generators' previous states are
  restored afterwards, so the data draws nothing from, and leaks nothing
  into, the streams the model draws from.

The seed is the sampler's: the config's ``sampler.seed`` when given, else
mmengine's ``randomness.seed`` (``diff_rank_seed=False``), else one number
drawn on rank 0 from the seeded generators and broadcast
(``sync_random_seed``, ``diff_rank_seed=True``). It is therefore the same on
every rank, and the same samples, augmented the same way, reach the model
for any ``num_workers``, ``persistent_workers`` and rank layout of one
global batch.
"""
import hashlib
import random
import struct
from typing import Any, Iterator, List, Optional, Sequence, Sized

import numpy as np
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from torch.utils.data import get_worker_info

from mics_mm.registry import DATA_SAMPLERS

__all__ = [
    'SeededIndex', 'SeededSampler', 'SeededInfiniteSampler',
    'sample_seed_words', 'seeded_call', 'install_per_sample_seeding'
]

_MASK64 = (1 << 64) - 1


class SeededIndex(int):
    """A dataset index that carries the seed of its sample's random draws.

    It is the ``int`` ``index`` for everything that indexes with it (a
    dataset that was not given :func:`install_per_sample_seeding` simply
    sees the index).

    Args:
        index (int): The dataset index.
        seed (int): The sampler's seed.
        epoch (int): The epoch.
        copy (int): 0, or for the extra copies of ``round_up`` the number of
            copies before this one. Defaults to 0.
    """

    def __new__(cls, index: int, seed: int, epoch: int, copy: int = 0):
        obj = super().__new__(cls, index)
        obj.seed, obj.epoch, obj.copy = int(seed), int(epoch), int(copy)
        return obj

    def __reduce__(self):
        # pickled to the workers as the four numbers
        return (SeededIndex, (int(self), self.seed, self.epoch, self.copy))

    def __repr__(self) -> str:
        return (f'SeededIndex({int(self)}, seed={self.seed}, '
                f'epoch={self.epoch}, copy={self.copy})')


def sample_seed_words(index: SeededIndex) -> np.ndarray:
    """Four 32-bit words hashed (BLAKE2b) from ``(seed, epoch, index,
    copy)``."""
    key = struct.pack('<4Q', *(int(v) & _MASK64 for v in (
        index.seed, index.epoch, int(index), index.copy)))
    digest = hashlib.blake2b(key, digest_size=16,
                             person=b'mics_mm-sample').digest()
    return np.frombuffer(digest, dtype='<u4').astype(np.uint32)


def seeded_call(index: SeededIndex, fn, *args, restore: bool = True,
                **kwargs) -> Any:
    """``fn(*args, **kwargs)`` with Python's, NumPy's and torch's (CPU)
    global generators seeded for ``index``.

    With ``restore`` (the default) their previous states are put back
    afterwards, whatever happens, so nothing leaks into the caller's
    streams.
    """
    words = sample_seed_words(index)
    if restore:
        py_state = random.getstate()
        np_state = np.random.get_state()
        torch_state = torch.get_rng_state()
    try:
        random.seed(int.from_bytes(words.tobytes(), 'little'))
        np.random.seed(words)
        # the CPU generator only: torch.manual_seed would also reseed CUDA
        torch.default_generator.manual_seed(
            int(words[0]) | (int(words[1]) << 32))
        return fn(*args, **kwargs)
    finally:
        if restore:
            random.setstate(py_state)
            np.random.set_state(np_state)
            torch.set_rng_state(torch_state)


class _PerSampleSeeding:
    """A dataset's ``__getitems__``: each :class:`SeededIndex` of the batch
    is fetched with ``dataset[index]`` under its own seeds; other indices as
    they are."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __call__(self, indices: Sequence[int]) -> List[Any]:
        dataset = self.dataset
        # A worker's generators serve its samples only, and every sample
        # seeds them anew: restoring them (some 0.3 ms a sample for NumPy's
        # state) is needed in the main process only (num_workers=0), where
        # the model draws from the same generators.
        restore = get_worker_info() is None
        out = []
        for idx in indices:
            if isinstance(idx, SeededIndex):
                out.append(
                    seeded_call(
                        idx, dataset.__getitem__, int(idx), restore=restore))
            else:
                out.append(dataset[idx])
        return out


def install_per_sample_seeding(dataset) -> None:
    """Give ``dataset`` (the object the data loader indexes) the
    ``__getitems__`` that runs each :class:`SeededIndex` under its seeds.

    torch's ``DataLoader`` fetches every batch through
    ``dataset.__getitems__`` when the dataset has one (with batching, which
    mmengine's loaders always use); the attribute is set on this object only
    and travels with it to the workers. Idempotent.
    """
    if not hasattr(dataset, '__dict__'):
        raise TypeError(
            f'SeededSampler needs a dataset object that takes attributes, '
            f'got a {type(dataset).__name__}')
    current = dataset.__dict__.get('__getitems__')
    if isinstance(current, _PerSampleSeeding) and current.dataset is dataset:
        return
    dataset.__getitems__ = _PerSampleSeeding(dataset)


def has_per_sample_seeding(dataset) -> bool:
    """Whether :func:`install_per_sample_seeding` was applied to
    ``dataset``."""
    return isinstance(
        getattr(dataset, '__dict__', {}).get('__getitems__'),
        _PerSampleSeeding)


@DATA_SAMPLERS.register_module()
class SeededSampler(DefaultSampler):
    """``DefaultSampler`` whose samples draw their augmentations from
    ``(seed, epoch, index)`` only (see the module's docstring).

    The indices, their order and their split over ranks are exactly
    ``DefaultSampler``'s for the same arguments; only the random draws of
    the pipeline change: they no longer depend on ``num_workers``,
    ``persistent_workers``, the worker that runs a sample or the rank that
    receives it, never repeat from one epoch to the next, and a run resumed
    at an epoch boundary draws what the uninterrupted run drew.

    Args:
        dataset (Sized): The dataset; it is given the per-sample seeding
            (:func:`install_per_sample_seeding`).
        shuffle (bool): Whether to shuffle. Defaults to True.
        seed (int, optional): Seed of the shuffle and of the samples' draws;
            the same on every rank. Defaults to None (mmengine's
            ``sync_random_seed``; the runner passes ``randomness.seed``
            unless ``diff_rank_seed=True``).
        round_up (bool): As ``DefaultSampler``. Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        super().__init__(
            dataset=dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        install_per_sample_seeding(dataset)

    def __iter__(self) -> Iterator[SeededIndex]:
        seed, epoch = self.seed, self.epoch
        n = len(self.dataset)
        if n == 0:
            return iter([])
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(seed + epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        # DefaultSampler: (order * k)[:total_size][rank::world_size]
        return iter([
            SeededIndex(order[pos % n], seed, epoch, pos // n)
            for pos in range(self.rank, self.total_size, self.world_size)
        ])


@DATA_SAMPLERS.register_module()
class SeededInfiniteSampler(InfiniteSampler):
    """``InfiniteSampler`` whose samples draw their augmentations from
    ``(seed, pass, index)`` only, for iteration-based loops (fine-tuning a
    fixed number of iterations over a small labelled set).

    The indices, their order and their split over ranks are exactly
    ``InfiniteSampler``'s for the same arguments (one permutation of the
    data set after another from a generator seeded once, every
    ``world_size``-th index to a rank); each index carries the number of
    the permutation (pass over the data) it comes from, which takes the
    place of :class:`SeededSampler`'s epoch. So the draws do not depend on
    the worker count or the worker that loads a sample, no pass repeats
    another's, and mmengine's resume of an iteration-based loop (which
    replays the batches before the checkpoint) loads what the
    uninterrupted run loaded.

    Args:
        dataset (Sized): The dataset; it is given the per-sample seeding.
        shuffle (bool): Whether to shuffle. Defaults to True.
        seed (int, optional): As ``InfiniteSampler``. Defaults to None.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None) -> None:
        super().__init__(dataset=dataset, shuffle=shuffle, seed=seed)
        install_per_sample_seeding(dataset)

    def _infinite_indices(self) -> Iterator[SeededIndex]:
        g = torch.Generator()
        g.manual_seed(self.seed)
        run = 0
        while True:
            order = torch.randperm(self.size, generator=g).tolist() \
                if self.shuffle else list(range(self.size))
            for index in order:
                yield SeededIndex(index, self.seed, run)
            run += 1
