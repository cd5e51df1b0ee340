"""Tests of mics_mm.datasets.splits: scanning helpers and split making."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mics_mm.datasets import KvasirDataset
from mics_mm.datasets.layouts import detect_layout, pairing_key, scan_layout
from mics_mm.datasets.splits import (make_splits, nested_labeled_subsets,
                                     stratified_partition)


def _img(path, value=0):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8, 3), value, np.uint8))


def _kvasir_tree(root, counts):
    for cls, n in counts.items():
        for i in range(n):
            _img(osp.join(root, cls, f'{i:03d}.jpg'), i)
    return str(root)


def _paired_tree(root, split, counts):
    for cls, n in counts.items():
        for mod in ('WLI', 'NBI'):
            for i in range(n):
                _img(osp.join(root, split, f'{cls}_{mod}', f'{i:03d}.png'), i)
    return str(root)


def _load(path):
    with open(path) as f:
        return json.load(f)


def _keys(path):
    """The samples of a split file as hashable (modality, path) tuples."""
    return [
        tuple(sorted(d['img_path'].items())) for d in _load(path)['data_list']
    ]


COUNTS = {'a': 20, 'b': 30, 'c': 50}


def _half_up(x):
    """Rounding used by the split code (Python's round() is to even)."""
    return int(np.floor(x + 0.5))


# ------------------------------------------------------------- scanning
def test_pairing_key():
    mods = ('wli', 'nbi')
    assert pairing_key('0001_wli.png', mods) == '0001'
    assert pairing_key('0001_NBI.jpg', mods) == '0001'
    assert pairing_key('WLI-img_12.png', mods) == 'img_12'
    assert pairing_key('img_wli_12.png', mods) == \
        pairing_key('img_nbi_12.png', mods)
    assert pairing_key('0001.png', mods) == '0001'
    # a modality name inside a word is kept
    assert pairing_key('swlix.png', mods) == 'swlix'


def test_detect_and_scan_layouts(tmp_path):
    kv = _kvasir_tree(tmp_path / 'kv', {'b': 1, 'a': 2})
    assert detect_layout(kv) == 'kvasir'
    res = scan_layout(kv)
    assert res.layout == 'kvasir' and res.classes == ('a', 'b')
    assert [s['gt_label'] for s in res.samples] == [0, 0, 1]
    pr = _paired_tree(tmp_path / 'pr', 'train', {'a': 2})
    assert detect_layout(pr) == 'paired'
    res = scan_layout(pr, split='train')
    assert res.layout == 'paired'
    assert set(res.samples[0]['img_path']) == {'wli', 'nbi'}


def test_stratified_partition_proportions_and_determinism():
    labels = np.repeat([0, 1, 2], [20, 30, 50])
    held = [('test', 0.2), ('val', 0.1)]
    parts = stratified_partition(labels, held, np.random.default_rng(0),
                                 ['a', 'b', 'c'])
    for name, frac in (('test', 0.2), ('val', 0.1), ('train', 0.7)):
        counts = np.bincount(labels[parts[name]], minlength=3)
        assert counts.tolist() == [round(n * frac) for n in (20, 30, 50)]
    all_idx = np.concatenate(list(parts.values()))
    assert sorted(all_idx.tolist()) == list(range(100))  # union, no overlap
    again = stratified_partition(labels, held, np.random.default_rng(0),
                                 ['a', 'b', 'c'])
    other = stratified_partition(labels, held, np.random.default_rng(1),
                                 ['a', 'b', 'c'])
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts['test'], other['test'])


def test_stratified_partition_too_few():
    labels = [0, 0, 0, 1, 1]
    with pytest.raises(ValueError,
                       match="class 'b' has 2 images.*at least 3 per class"):
        stratified_partition(labels, [('test', 0.2), ('val', 0.1)],
                             np.random.default_rng(0), ['a', 'b'])
    parts = stratified_partition(labels, [('test', 0.2)],
                                 np.random.default_rng(0), ['a', 'b'])
    assert np.bincount(np.asarray(labels)[parts['test']]).tolist() == [1, 1]


def test_nested_labeled_subsets():
    labels = np.repeat([0, 1, 2], [40, 100, 7])
    fractions = (1, 5, 10, 50, 100)
    subsets = nested_labeled_subsets(labels, fractions,
                                     np.random.default_rng(3), 3)
    for p in fractions:
        counts = np.bincount(labels[subsets[p]], minlength=3)
        expected = [max(1, _half_up(n * p / 100)) for n in (40, 100, 7)]
        assert counts.tolist() == expected
    for small, big in zip(fractions, fractions[1:]):
        assert set(subsets[small].tolist()) <= set(subsets[big].tolist())
    assert subsets[100].tolist() == list(range(len(labels)))
    with pytest.raises(ValueError, match='percentage'):
        nested_labeled_subsets(labels, (0, ), np.random.default_rng(0), 3)


# ---------------------------------------------------------- make_splits
def test_make_splits_kvasir(tmp_path):
    root = _kvasir_tree(tmp_path / 'kv', COUNTS)
    meta = make_splits(root, seed=0, fractions=(1, 10, 50, 100))
    out = osp.join(root, 'splits')
    names = sorted(os.listdir(out))
    assert names == sorted([
        'train.json', 'val.json', 'test.json', 'splits_meta.json',
        'train_labeled_1pct.json', 'train_unlabeled_1pct.json',
        'train_labeled_10pct.json', 'train_unlabeled_10pct.json',
        'train_labeled_50pct.json', 'train_unlabeled_50pct.json',
        'train_labeled_100pct.json'
    ])  # unlabeled 100 % would be empty: not written
    assert meta['not_written_empty'] == ['train_unlabeled_100pct.json']
    train, val, test = (
        _keys(osp.join(out, f'{s}.json')) for s in ('train', 'val', 'test'))
    # no overlap, union = all images
    assert not set(train) & set(val) and not set(train) & set(test) \
        and not set(val) & set(test)
    assert len(train) + len(val) + len(test) == 100
    assert set(train) | set(val) | set(test) == {
        (('wli', osp.join(c, f'{i:03d}.jpg')), )
        for c, n in COUNTS.items() for i in range(n)
    }
    # stratified: each class keeps its proportion in every split
    for split, frac in (('train', 0.7), ('val', 0.1), ('test', 0.2)):
        labels = [d['gt_label'] for d in _load(
            osp.join(out, f'{split}.json'))['data_list']]
        assert np.bincount(labels, minlength=3).tolist() == [
            round(n * frac) for n in COUNTS.values()
        ]
        assert meta['counts'][split]['total'] == len(labels)
    # labelled subsets: nested, stratified, complement is the rest of train
    prev = set()
    for p in (1, 10, 50, 100):
        lab = _keys(osp.join(out, f'train_labeled_{p}pct.json'))
        assert prev <= set(lab) <= set(train)
        labels = [d['gt_label'] for d in _load(
            osp.join(out, f'train_labeled_{p}pct.json'))['data_list']]
        assert np.bincount(labels, minlength=3).tolist() == [
            max(1, _half_up(_half_up(n * 0.7) * p / 100))
            for n in COUNTS.values()
        ]
        if p < 100:
            unl = _keys(osp.join(out, f'train_unlabeled_{p}pct.json'))
            assert not set(unl) & set(lab)
            assert set(unl) | set(lab) == set(train)
        prev = set(lab)
    saved = _load(osp.join(out, 'splits_meta.json'))
    assert saved['seed'] == 0 and saved['layout'] == 'kvasir'
    assert saved['counts']['test'] == {'a': 4, 'b': 6, 'c': 10, 'total': 20}
    assert saved['classes'] == ['a', 'b', 'c']


def test_make_splits_files_load_in_dataset(tmp_path):
    root = _kvasir_tree(tmp_path, COUNTS)
    make_splits(root, fractions=(5, ))
    ds = KvasirDataset(data_root=root, ann_file='splits/val.json')
    assert len(ds) == 10
    assert ds.metainfo['classes'] == ('a', 'b', 'c')
    assert osp.isfile(ds.get_data_info(0)['img_path']['wli'])
    lab = KvasirDataset(
        data_root=root, ann_file='splits/train_labeled_5pct.json')
    assert sorted(lab.get_gt_labels().tolist()) == [0, 1, 2, 2]


def test_make_splits_deterministic(tmp_path):
    root = _kvasir_tree(tmp_path / 'kv', COUNTS)
    files = ['train.json', 'val.json', 'test.json', 'train_labeled_5pct.json']
    for name, seed in (('s0', 0), ('s0_again', 0), ('s1', 1)):
        make_splits(
            root, out_dir=str(tmp_path / name), seed=seed, fractions=(5, ))

    def read(name, f):
        with open(tmp_path / name / f, 'rb') as fh:
            return fh.read()

    for f in files:
        assert read('s0', f) == read('s0_again', f)
    assert read('s0', 'splits_meta.json') == read('s0_again',
                                                   'splits_meta.json')
    assert read('s0', 'test.json') != read('s1', 'test.json')
    assert read('s0', 'train_labeled_5pct.json') != read(
        's1', 'train_labeled_5pct.json')


def test_make_splits_paired_keeps_folders(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 10, 'b': 20})
    _paired_tree(tmp_path, 'test', {'a': 3, 'b': 4})
    meta = make_splits(root, test=0.5, val=0.1, fractions=(50, ))
    out = osp.join(root, 'splits')
    test = _load(osp.join(out, 'test.json'))['data_list']
    # test comes from test/ unchanged (the 0.5 fraction is not used)
    assert len(test) == 7
    assert all(p.startswith('test/') for d in test
               for p in d['img_path'].values())
    assert all(set(d['img_path']) == {'wli', 'nbi'} for d in test)
    # val is carved (stratified) from train/
    val = _load(osp.join(out, 'val.json'))['data_list']
    assert np.bincount([d['gt_label'] for d in val]).tolist() == [1, 2]
    assert all(p.startswith('train/') for d in val
               for p in d['img_path'].values())
    assert meta['counts']['train']['total'] == 27
    assert meta['sources']['test'] == 'test/'
    assert meta['layout'] == 'paired'


def test_make_splits_paired_with_val_folder(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 4})
    _paired_tree(tmp_path, 'val', {'a': 2})
    _paired_tree(tmp_path, 'test', {'a': 1})
    meta = make_splits(root, fractions=(100, ))
    assert {k: v['total'] for k, v in meta['counts'].items()} == {
        'train': 4, 'val': 2, 'test': 1, 'train_labeled_100pct': 4
    }


def test_make_splits_too_few_images(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 10, 'b': 2})
    with pytest.raises(ValueError) as info:
        make_splits(root)
    msg = str(info.value)
    assert "class 'b' has 2 images" in msg
    assert 'at least 3 per class' in msg
    assert not osp.exists(osp.join(root, 'splits'))  # nothing written


def test_make_splits_refuses_overwrite(tmp_path):
    root = _kvasir_tree(tmp_path, COUNTS)
    make_splits(root, fractions=(10, ), seed=0)
    train = osp.join(root, 'splits', 'train.json')
    before = open(train).read()
    with pytest.raises(FileExistsError, match='--force') as info:
        make_splits(root, fractions=(10, ), seed=5)
    assert osp.join(root, 'splits') in str(info.value)
    assert open(train).read() == before
    make_splits(root, fractions=(10, ), seed=5, force=True)
    assert open(train).read() != before


def test_make_splits_bad_fractions(tmp_path):
    root = _kvasir_tree(tmp_path, COUNTS)
    with pytest.raises(ValueError, match='below 1'):
        make_splits(root, val=0.5, test=0.5)
    with pytest.raises(ValueError, match='percentage'):
        make_splits(root, fractions=(150, ))
