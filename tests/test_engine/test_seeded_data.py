"""SeededSampler: each sample's augmentations come from (seed, epoch, index)
only (mics_mm/datasets/seeded_sampler.py, docs/reliability.md).

- The sampler yields DefaultSampler's indices (order, padding, rank split).
- The MICS demo pipeline (random crop, flip, colour jitter per modality)
  gives bitwise the same batches at ``num_workers`` 0, 1 and 2, with and
  without persistent workers, and for 1 or 2 ranks; loading leaves the
  process's own random generators as they were.
- No epoch repeats another's draws; a new loader at epoch 1 (a resumed run)
  draws what a persistent one draws in its second epoch.
- A MICS demo run SIGKILLed in epoch 2 and resumed, with the configs' own
  ``num_workers=2, persistent_workers=True``, ends with the uninterrupted
  run's weights (slow).
"""
import itertools
import pickle
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler
from mmengine.registry import DATA_SAMPLERS, DefaultScope
from mmengine.runner import Runner

import reliability_helpers as rh
from reliability_helpers import one_thread  # noqa: F401 (autouse fixture)
from mics_mm.datasets import SeededIndex, SeededSampler
from mics_mm.datasets.seeded_sampler import has_per_sample_seeding


@pytest.fixture(scope='module')
def kvasir(tmp_path_factory):
    return rh.make_kvasir(str(tmp_path_factory.mktemp('kvasir') / 'd'),
                          per_class=2)


def demo_loader(data, num_workers, persistent=False, seed=3):
    """The MICS demo config's own training loader (sampler included) on the
    16 demo images, batch 4, built as mmengine's runner builds it. The
    sampler's seed is given (in a run, mmengine draws it from the seeded
    generators when ``diff_rank_seed=True``)."""
    cfg = Config.fromfile(str(rh.MICS_DEMO)).train_dataloader
    cfg.dataset.update(data_root=data, ann_file='', split=None)
    cfg.update(batch_size=4, num_workers=num_workers,
               persistent_workers=persistent)
    cfg.sampler.seed = seed
    return Runner.build_dataloader(cfg, seed=1234, diff_rank_seed=True)


def tensors(obj):
    """Every tensor of a batch, in a fixed order."""
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for k in sorted(obj) for t in tensors(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [t for x in obj for t in tensors(x)]
    return []


def by_index(loader, epochs):
    """{(epoch, dataset index): the sample's image tensors}."""
    out = {}
    for epoch in epochs:
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            indices = [s.sample_idx for s in batch['data_samples']]
            for i, idx in enumerate(indices):
                out[epoch, idx] = [
                    batch['inputs'][m][i] for m in sorted(batch['inputs'])
                ]
    return out


def batches(loader, epochs):
    out = []
    for epoch in epochs:
        loader.sampler.set_epoch(epoch)
        out += [tensors(b) for b in loader]
    return out


def assert_bitwise_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for s, t in zip(x, y):
            assert s.dtype == t.dtype and torch.equal(s, t)


# ---------------------------------------------------------------- sampler
def test_configs_train_with_the_seeded_sampler(kvasir):
    loader = demo_loader(kvasir, 0)
    assert isinstance(loader.sampler, SeededSampler)
    assert has_per_sample_seeding(loader.dataset)
    # from mmseg's scope too (the segmentation configs' default scope)
    import mics_mm.seg  # noqa: F401 (registers the mmseg scope)
    with DefaultScope.overwrite_default_scope('mmseg'):
        sampler = DATA_SAMPLERS.build(
            dict(type='SeededSampler', _scope_='mics_mm'),
            default_args=dict(dataset=loader.dataset, seed=0))
    assert isinstance(sampler, SeededSampler)


class _Data(list):
    pass


def _place(sampler, rank, world_size):
    """Give a sampler a rank as DefaultSampler.__init__ would."""
    n = len(sampler.dataset)
    sampler.rank, sampler.world_size = rank, world_size
    if sampler.round_up:
        sampler.num_samples = -(-n // world_size)
        sampler.total_size = sampler.num_samples * world_size
    else:
        sampler.num_samples = -(-(n - rank) // world_size)
        sampler.total_size = n


@pytest.mark.parametrize('n,world_size,round_up,shuffle',
                         itertools.product([5, 8], [1, 2, 3], [True, False],
                                           [True, False]))
def test_yields_default_sampler_indices(n, world_size, round_up, shuffle):
    data = _Data(range(n))
    for rank in range(world_size):
        ref = DefaultSampler(data, shuffle=shuffle, seed=11, round_up=round_up)
        got = SeededSampler(data, shuffle=shuffle, seed=11, round_up=round_up)
        for s in (ref, got):
            _place(s, rank, world_size)
            s.set_epoch(3)
        indices = list(got)
        assert [int(i) for i in indices] == list(ref)
        assert len(indices) == len(got) == len(ref)
        assert all(i.seed == 11 and i.epoch == 3 for i in indices)
    # round_up's extra copies of an index draw differently from the first
    if round_up and n % world_size:
        copies = []
        for rank in range(world_size):
            _place(got, rank, world_size)
            copies += [i.copy for i in got]
        assert max(copies) == 1


def test_seeded_index_is_an_int_that_pickles():
    idx = SeededIndex(5, seed=7, epoch=2, copy=1)
    assert idx == 5 and [0, 1, 2, 3, 4, 5][idx] == 5 and hash(idx) == 5
    back = pickle.loads(pickle.dumps(idx))
    assert (int(back), back.seed, back.epoch, back.copy) == (5, 7, 2, 1)


# ------------------------------------------------- same data, any layout
def test_same_batches_for_any_worker_count(kvasir):
    """Bitwise the same augmented tensors, in the same order, at 0, 1 and 2
    workers (2 epochs; persistent and not)."""
    ref = batches(demo_loader(kvasir, 0), [0, 1])
    for workers, persistent in ((1, False), (2, False), (2, True)):
        got = batches(demo_loader(kvasir, workers, persistent), [0, 1])
        assert_bitwise_equal(got, ref)


def test_same_samples_for_any_rank_layout(kvasir):
    """Two ranks of one global batch get the samples a single process gets
    (the seed is the sampler's, not the rank's)."""
    single = demo_loader(kvasir, 0, seed=3)
    dataset = single.dataset
    one = {}
    for idx in single.sampler:
        one[int(idx)] = tensors(dataset.__getitems__([idx]))
    assert len(one) == len(dataset)
    for rank in (0, 1):
        sampler = SeededSampler(dataset, shuffle=True, seed=3)
        _place(sampler, rank, 2)
        for idx in sampler:
            assert_bitwise_equal([tensors(dataset.__getitems__([idx]))],
                                 [one[int(idx)]])


def test_loading_leaves_the_process_generators_alone(kvasir):
    dataset = demo_loader(kvasir, 0).dataset
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    before = (random.getstate(), np.random.get_state()[1].copy(),
              torch.get_rng_state())
    dataset.__getitems__([SeededIndex(i, 5, 0) for i in range(4)])
    assert random.getstate() == before[0]
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert torch.equal(torch.get_rng_state(), before[2])


# --------------------------------------------------------------- epochs
@pytest.mark.parametrize('persistent', [False, True])
def test_epochs_draw_anew(kvasir, persistent):
    """Epoch 1 augments every sample differently from epoch 0, with
    persistent workers or not; a fresh loader at epoch 1 (a resumed run)
    draws what the two-epoch loader drew in its second epoch."""
    seen = by_index(demo_loader(kvasir, 2, persistent), [0, 1])
    n = 16
    assert len(seen) == 2 * n
    for idx in range(n):
        assert not all(
            torch.equal(a, b) for a, b in zip(seen[0, idx], seen[1, idx])), idx
    resumed = by_index(demo_loader(kvasir, 2, persistent), [1])
    for idx in range(n):
        assert_bitwise_equal([resumed[1, idx]], [seen[1, idx]])


# ------------------------------------------------- killed, resumed, workers
@pytest.mark.slow
def test_sigkill_then_resume_with_persistent_workers(kvasir,
                                                     tmp_path_factory):
    """The reliability test's kill / resume (test_reliability.py) at the
    configs' own num_workers=2, persistent_workers=True: the resumed run
    ends with the uninterrupted run's weights (all tensors within 1e-5)
    and logs its losses; and the uninterrupted run equals one without
    workers."""
    opts = rh.mics_demo_options(kvasir, num_workers=2,
                                persistent_workers=True)
    ref_work = tmp_path_factory.mktemp('seeded_ref') / 'run'
    ref = rh.train_and_record(rh.MICS_DEMO, str(ref_work), opts)
    work = tmp_path_factory.mktemp('seeded_killed') / 'run'
    run = rh.kill_then_resume(rh.MICS_DEMO, work, opts)
    assert run['killed']['pointer'].endswith('epoch_1.pth')
    assert max(run['killed']['scalars']) > 4
    assert len(run['resumed']['losses']) == 4
    final = rh.load_state(work / 'epoch_2.pth')
    diff = rh.max_state_diff(final, ref['state'])
    assert diff <= 1e-5, diff
    rh.assert_states_close(final, ref['state'], atol=1e-5)
    logged, expected = rh.read_scalars(str(work)), rh.read_scalars(
        str(ref_work))
    for step in range(5, 9):
        for term in ('loss', 'loss_recon', 'loss_consistency',
                     'loss_aligned', 'loss_disc'):
            assert logged[step][term] == pytest.approx(
                expected[step][term], rel=1e-4), (step, term)
    # The same training without workers (RandomStateHook keeps the
    # loaders' iterators off the global generator the masks come from).
    no_workers = rh.train_and_record(
        rh.MICS_DEMO, str(tmp_path_factory.mktemp('seeded_w0') / 'run'),
        rh.mics_demo_options(kvasir))
    assert rh.max_state_diff(no_workers['state'], ref['state']) <= 1e-5


@pytest.mark.parametrize('shuffle', [True, False])
@pytest.mark.parametrize('world_size,rank', [(1, 0), (2, 0), (2, 1), (3, 2)])
def test_seeded_infinite_sampler_keeps_infinite_samplers_indices(
        monkeypatch, shuffle, world_size, rank):
    """The iteration-based loops' sampler: InfiniteSampler's index stream
    and rank split, each index tagged with the pass over the data it comes
    from (the epoch of its draws), so no pass repeats another's."""
    import itertools

    import mmengine.dataset.sampler as mm_sampler
    from mmengine.dataset import InfiniteSampler

    from mics_mm.datasets import SeededInfiniteSampler
    monkeypatch.setattr(mm_sampler, 'get_dist_info',
                        lambda: (rank, world_size))

    class Data(list):
        pass

    n = 7
    ours = SeededInfiniteSampler(Data(range(n)), shuffle=shuffle, seed=5)
    ref = InfiniteSampler(list(range(n)), shuffle=shuffle, seed=5)
    got = list(itertools.islice(iter(ours), 40))
    want = list(itertools.islice(iter(ref), 40))
    assert [int(i) for i in got] == want
    # the k-th index of the global stream comes from pass k // n
    for j, index in enumerate(got):
        assert index.epoch == (rank + j * world_size) // n
        assert index.seed == 5
