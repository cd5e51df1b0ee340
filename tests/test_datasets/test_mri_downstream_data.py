"""Downstream MRI data: missing modalities, class labels, slice enumeration,
fixed slices, crop / pad with canvas offsets, caching, label maps."""
import csv
import json

import nibabel as nib
import numpy as np
import pytest

from mics_mm.datasets import BrainMRIDataset, BrainMRISliceDataset
from mics_mm.datasets.transforms import (ArrangeModalities,
                                         CachedCompose, CropPad,
                                         LoadMRIStudy, PackMRIInputs,
                                         RandomSlice2D, TakeSlice2D)

SHAPE = (12, 14, 10)


def _save(path, data):
    nib.save(nib.Nifti1Image(np.asarray(data), np.eye(4)), str(path))
    return str(path)


def _study(root, case, mods, seed=0, label_slices=(3, 4, 5)):
    rng = np.random.default_rng(seed)
    (root / case).mkdir(parents=True, exist_ok=True)
    for i, mod in enumerate(mods):
        vol = np.zeros(SHAPE, np.float32)
        vol[2:10, 3:11, 2:8] = i + 1 + rng.random((8, 8, 6), np.float32)
        _save(root / case / f'{case}_{mod}.nii.gz', vol)
    lab = np.zeros(SHAPE, np.int16)
    for z in label_slices:
        lab[4:8, 5:9, z] = 1 + z % 2
    _save(root / case / f'{case}_seg.nii.gz', lab)


@pytest.fixture
def root(tmp_path):
    _study(tmp_path, 'a', ('t1', 't2', 'flair'))
    _study(tmp_path, 'b', ('t1', ), seed=1)
    return tmp_path


# ------------------------------------------------------------ the dataset
def test_allow_missing_keeps_studies_with_some_modalities(root):
    with pytest.raises(ValueError, match=r"study 'b'.*lacks modalities"):
        BrainMRIDataset(data_root=str(root), modalities=('t1', 't2'))
    ds = BrainMRIDataset(
        data_root=str(root), modalities=('t2', 't1'), allow_missing=True)
    infos = {i['case']: i for i in ds.load_data_list()}
    assert infos['a']['modalities'] == ('t1', 't2')  # vocabulary order
    assert infos['b']['modalities'] == ('t1', )
    with pytest.raises(ValueError, match=r"study 'b'.*no modality image of"):
        BrainMRIDataset(
            data_root=str(root), modalities=('pd', 't2'), allow_missing=True)


def test_class_labels_from_manifest_and_labels_file(root):
    manifest = root / 'cls.json'
    manifest.write_text(
        json.dumps([
            dict(case='a', images={'t1': 'a/a_t1.nii.gz'}, gt_label='HGG'),
            dict(case='b', images={'t1': 'b/b_t1.nii.gz'}, gt_label=0),
        ]))
    ds = BrainMRIDataset(
        data_root=str(root), ann_file='cls.json',
        metainfo=dict(classes=('LGG', 'HGG')))
    assert [i['gt_label'] for i in ds.load_data_list()] == [1, 0]
    assert list(ds.get_gt_labels()) == [1, 0]
    with open(root / 'labels.csv', 'w', newline='') as f:
        csv.writer(f).writerows([['case', 'gt_label'], ['a', 'LGG'],
                                 ['b', 'HGG']])
    ds = BrainMRIDataset(
        data_root=str(root), labels_file='labels.csv',
        metainfo=dict(classes=('LGG', 'HGG')))
    assert [i['gt_label'] for i in ds.load_data_list()] == [0, 1]


def test_class_label_errors(root):
    (root / 'bad.json').write_text(
        json.dumps([
            dict(case='a', images={'t1': 'a/a_t1.nii.gz'}, gt_label='GBM')
        ]))
    with pytest.raises(ValueError, match=r"class 'GBM'.*not in classes"):
        BrainMRIDataset(
            data_root=str(root), ann_file='bad.json',
            metainfo=dict(classes=('LGG', 'HGG')))
    with open(root / 'partial.csv', 'w', newline='') as f:
        csv.writer(f).writerows([['case', 'gt_label'], ['a', '1']])
    with pytest.raises(ValueError, match=r"\['b'\] have no class label"):
        BrainMRIDataset(data_root=str(root), labels_file='partial.csv')
    with pytest.raises(FileNotFoundError, match='labels_file'):
        BrainMRIDataset(data_root=str(root), labels_file='nope.csv')
    with pytest.raises(ValueError, match='class index 5'):
        (root / 'idx.json').write_text(
            json.dumps([dict(images={'t1': 'a/a_t1.nii.gz'}, gt_label=5)]))
        BrainMRIDataset(
            data_root=str(root), ann_file='idx.json',
            metainfo=dict(classes=('LGG', 'HGG')))


def test_slice_dataset_enumerates_labelled_slices(root):
    ds = BrainMRISliceDataset(
        data_root=str(root), axis=2, min_foreground=0.01)
    items = ds.load_data_list()
    assert [(i['case'], i['slice_index']) for i in items] == [
        ('a', 3), ('a', 4), ('a', 5), ('b', 3), ('b', 4), ('b', 5)
    ]
    assert all(i['canvas_axis'] == 2 for i in items)
    every = BrainMRISliceDataset(data_root=str(root), axis=2, stride=3)
    assert [i['slice_index'] for i in every.load_data_list()] == [
        0, 3, 6, 9
    ] * 2
    by_image = BrainMRISliceDataset(
        data_root=str(root), axis=0, foreground_from='image',
        min_foreground=0.01)
    assert {i['slice_index'] for i in by_image.load_data_list()} == set(
        range(2, 10))
    with pytest.raises(ValueError, match='lower min_foreground'):
        BrainMRISliceDataset(data_root=str(root), min_foreground=0.9)


# ------------------------------------------------------------ transforms
def test_arrange_modalities_zero_fills_and_records_missing():
    img = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 2.0)])
    out = ArrangeModalities(('flair', 'T1', 't2'))(
        dict(img=img, modalities=('t2', 't1'), case='x'))
    assert out['modalities'] == ('flair', 't1', 't2')
    assert out['missing_modalities'] == ('flair', )
    assert out['img'][:, 0, 0].tolist() == [0.0, 2.0, 1.0]
    with pytest.raises(ValueError, match=r"'x'.*lacks \('flair',\)"):
        ArrangeModalities(('flair', 't1'), allow_missing=False)(
            dict(img=img, modalities=('t2', 't1'), case='x'))
    with pytest.raises(ValueError, match=r"'x' has none of \('pd',\)"):
        ArrangeModalities(('pd', ))(
            dict(img=img, modalities=('t2', 't1'), case='x'))
    with pytest.raises(ValueError, match='unknown MRI modality'):
        ArrangeModalities(('t5', ))


def _volume():
    return np.arange(2 * 6 * 7 * 5, dtype=np.float32).reshape(2, 6, 7, 5)


def test_take_slice_uses_canvas_index_and_offset():
    vol = _volume()
    out = TakeSlice2D()(
        dict(img=vol.copy(), canvas_offset=(1, 2, 3), slice_index=5,
             canvas_axis=2, gt_seg=np.ones(vol.shape[1:], np.int64)))
    np.testing.assert_array_equal(out['img'], vol[:, :, :, 2])
    assert out['img_shape'] == (6, 7) and out['gt_seg'].shape == (6, 7)
    # a slice cut away by a foreground crop comes out as zeros
    gone = TakeSlice2D()(
        dict(img=vol.copy(), canvas_offset=(0, 0, 3), slice_index=1,
             canvas_axis=2))
    assert gone['img'].shape == (2, 6, 7) and not gone['img'].any()
    with pytest.raises(KeyError, match='slice_index'):
        TakeSlice2D()(dict(img=vol))


def test_crop_pad_keeps_the_canvas_position():
    canvas = _volume()
    # 2D: an axial slice, centre-padded to 10 x 10 (nothing cut).
    item = TakeSlice2D()(
        dict(img=canvas.copy(), slice_index=2, canvas_axis=2))
    out = CropPad((10, 10), mode='center')(item)
    assert out['img'].shape == (2, 10, 10)
    assert out['canvas_offset'] == (-2, -1, 0)  # x: 2 before, y: 1 before
    np.testing.assert_array_equal(out['img'][:, 2:8, 1:8], canvas[:, :, :, 2])
    # 2D random crops: the content is the canvas at the recorded offset.
    np.random.seed(0)
    for _ in range(5):
        item = TakeSlice2D()(
            dict(img=canvas.copy(), slice_index=3, canvas_axis=1))
        out = CropPad(4, mode='random')(item)
        ox, _, oz = out['canvas_offset']
        np.testing.assert_array_equal(out['img'],
                                      canvas[:, ox:ox + 4, 3, oz:oz + 4])
    # 3D, labels padded with the given value.
    seg = np.zeros(canvas.shape[1:], np.int64)
    out = CropPad((4, 8, 5), mode='center', seg_pad_value=255)(
        dict(img=canvas.copy(), gt_seg=seg, canvas_offset=(1, 1, 1)))
    assert out['canvas_offset'] == (2, 1, 1)  # y: 0 before, 1 after
    assert out['gt_seg'][:, 7].tolist() == [[255] * 5] * 4
    assert not out['gt_seg'][:, :7].any()
    with pytest.raises(KeyError, match='canvas_axis'):
        CropPad(4)(dict(img=canvas[:, 0]))
    with pytest.raises(ValueError, match="mode must be"):
        CropPad(4, mode='middle')


def test_cached_compose_reads_once_and_keeps_per_item_keys(tmp_path):
    _study(tmp_path, 'a', ('t1', 't2'))
    item = dict(
        img_path={
            't1': str(tmp_path / 'a' / 'a_t1.nii.gz'),
            't2': str(tmp_path / 'a' / 'a_t2.nii.gz')
        },
        seg_path=str(tmp_path / 'a' / 'a_seg.nii.gz'),
        modalities=('t1', 't2'),
        case='a')
    cached = CachedCompose([dict(type='LoadMRIStudy')], max_items=1)
    first = cached(dict(item, slice_index=3))
    first['img'][:] = -1  # later transforms may write in place
    second = cached(dict(item, slice_index=4))
    assert (cached.misses, cached.hits) == (1, 1)
    assert second['slice_index'] == 4  # not the cached item's
    direct = LoadMRIStudy()(dict(item))
    np.testing.assert_array_equal(second['img'], direct['img'])
    np.testing.assert_array_equal(second['gt_seg'], direct['gt_seg'])
    other = dict(item, img_path={'t1': item['img_path']['t1']},
                 modalities=('t1', ))
    assert cached(other)['img'].shape[0] == 1
    assert cached.misses == 2 and len(cached._cache) == 1  # LRU of 1
    # pickled for workers without its contents
    import pickle
    assert len(pickle.loads(pickle.dumps(cached))._cache) == 0
    # the tail of a pipeline sees fresh random slices of the cached study
    sliced = RandomSlice2D(axis=2)(cached(dict(item)))
    assert sliced['img'].shape == (2, 12, 14)


def test_label_map_remaps_and_rejects_unknown_values(tmp_path):
    (tmp_path / 'c').mkdir()
    _save(tmp_path / 'c' / 'c_t1.nii.gz', np.ones((3, 3, 3), np.float32))
    lab = np.zeros((3, 3, 3), np.int16)
    lab[0, 0, 0], lab[1, 1, 1], lab[2, 2, 2] = 1, 2, 4
    _save(tmp_path / 'c' / 'c_seg.nii.gz', lab)
    item = dict(
        img_path={'t1': str(tmp_path / 'c' / 'c_t1.nii.gz')},
        seg_path=str(tmp_path / 'c' / 'c_seg.nii.gz'))
    out = LoadMRIStudy(label_map={0: 0, 1: 1, 2: 2, 4: 3})(dict(item))
    assert out['gt_seg'][2, 2, 2] == 3 and out['gt_seg'][1, 1, 1] == 2
    with pytest.raises(ValueError, match=r"values \[4\].*label_map"):
        LoadMRIStudy(label_map={0: 0, 1: 1, 2: 2})(dict(item))


def test_pack_carries_class_label_and_missing_modalities():
    out = PackMRIInputs()(
        dict(img=np.zeros((2, 4, 4), np.float32), gt_label=1,
             modalities=('t1', 't2'), missing_modalities=('t2', )))
    sample = out['data_samples']
    assert int(sample.gt_label) == 1
    assert sample.missing_modalities == ('t2', )
