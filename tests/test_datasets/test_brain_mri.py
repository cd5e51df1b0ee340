"""Tests of the multi-parametric brain MRI dataset and transforms."""
import json
import os.path as osp
import warnings

import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mics_mm.registry import DATASETS, TRANSFORMS
from mmpretrain.structures import DataSample

from mics_mm.datasets import BrainMRIDataset
from mics_mm.structures import (MODALITY_ALIASES, MRI_MODALITIES,
                                canonical_modality)
from mics_mm.datasets.transforms import (ForegroundCrop, LoadMRIStudy,
                                         PackMRIInputs,
                                         PercentileNormalize,
                                         RandomPatch3D, RandomSlice2D,
                                         SampleModalities)

SHAPE = (16, 20, 12)
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # x, y flipped w.r.t. RAS


def _save(path, data, affine=LPS):
    nib.save(nib.Nifti1Image(np.asarray(data), affine), str(path))
    return str(path)


def _volume(value=1.0, seed=0):
    """A brain-like block of foreground in a zero background."""
    rng = np.random.default_rng(seed)
    vol = np.zeros(SHAPE, np.float32)
    vol[3:13, 4:16, 2:10] = value + rng.random((10, 12, 8), np.float32)
    return vol


def _brats(root, cases=('c1', 'c2'), mods=('t1', 't1ce', 'T2', 'flair'),
           seg=True):
    for case in cases:
        (root / case).mkdir(parents=True)
        for i, mod in enumerate(mods):
            _save(root / case / f'{case}_{mod}.nii.gz', _volume(i + 1, i))
        if seg:
            lab = np.zeros(SHAPE, np.int16)
            lab[5:8, 6:9, 4:6] = 2
            _save(root / case / f'{case}_seg.nii.gz', lab)
    return root


# ----------------------------------------------------------------- dataset
def test_vocabulary_and_aliases():
    assert MRI_MODALITIES == ('flair', 't1', 't1c', 't2', 'mra', 'pd', 'dwi',
                              'adc')
    for alias, name in [('T1ce', 't1c'), ('t1gd', 't1c'), ('t1-ce', 't1c'),
                        ('t2f', 'flair'), ('T2-FLAIR', 'flair'),
                        ('t1n', 't1'), ('t1w', 't1'), ('t2w', 't2'),
                        ('ADC', 'adc')]:
        assert canonical_modality(alias) == name
    assert all(v in MRI_MODALITIES for v in MODALITY_ALIASES.values())
    with pytest.raises(ValueError, match='vocabulary'):
        canonical_modality('ct')


def test_brats_layout(tmp_path):
    root = _brats(tmp_path / 'brats')
    (root / 'notes.txt').write_text('ignored')
    ds = BrainMRIDataset(data_root=str(root))
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['case'] == 'c1'
    assert info['modalities'] == ('flair', 't1', 't1c', 't2')
    assert list(info['img_path']) == ['flair', 't1', 't1c', 't2']
    assert info['img_path']['t1c'] == osp.join(str(root), 'c1',
                                               'c1_t1ce.nii.gz')
    assert info['seg_path'].endswith('c1_seg.nii.gz')
    # a tuple filters (and keeps vocabulary order)
    ds = BrainMRIDataset(data_root=str(root), modalities=('T2', 't1ce'))
    assert ds.get_data_info(1)['modalities'] == ('t1c', 't2')
    assert ds.metainfo['modalities'] == ('t1c', 't2')
    # ... and requires
    with pytest.raises(ValueError, match='lacks modalities'):
        BrainMRIDataset(data_root=str(root), modalities=('t1', 'adc'))


def test_brats_2023_names_and_label_key(tmp_path):
    root = tmp_path / 'b23'
    case = 'BraTS-GLI-00000-000'
    (root / case).mkdir(parents=True)
    for mod in ('t1n', 't1c', 't2w', 't2f'):
        _save(root / case / f'{case}-{mod}.nii.gz', _volume())
    _save(root / case / f'{case}-mask.nii', _volume())
    ds = BrainMRIDataset(data_root=str(root), label_key='mask')
    info = ds.get_data_info(0)
    assert info['modalities'] == ('flair', 't1', 't1c', 't2')
    assert info['seg_path'].endswith(f'{case}-mask.nii')


def test_manifest_json_and_csv(tmp_path):
    root = _brats(tmp_path / 'd', cases=('c1', ), seg=True)
    entries = [
        dict(
            case='c1',
            images={
                'T1': 'c1/c1_t1.nii.gz',
                't1ce': str(root / 'c1' / 'c1_t1ce.nii.gz')
            },
            label='c1/c1_seg.nii.gz'),
        dict(case='c1b', images={'t2-flair': 'c1/c1_flair.nii.gz'})
    ]
    (root / 'm.json').write_text(json.dumps(entries))
    ds = BrainMRIDataset(data_root=str(root), ann_file='m.json')
    assert len(ds) == 2
    a, b = ds.get_data_info(0), ds.get_data_info(1)
    assert a['modalities'] == ('t1', 't1c') and a['case'] == 'c1'
    assert a['img_path']['t1'] == osp.join(str(root), 'c1', 'c1_t1.nii.gz')
    assert a['seg_path'] == osp.join(str(root), 'c1', 'c1_seg.nii.gz')
    assert b['modalities'] == ('flair', ) and b['seg_path'] is None

    (root / 'm.csv').write_text('case,modality,path\n'
                                'c1,t2,c1/c1_T2.nii.gz\n'
                                'c1,label,c1/c1_seg.nii.gz\n'
                                'c1,t1gd,c1/c1_t1ce.nii.gz\n'
                                'c2,flair,c1/c1_flair.nii.gz\n')
    ds = BrainMRIDataset(data_root=str(root), ann_file='m.csv')
    assert [ds.get_data_info(i)['case'] for i in range(2)] == ['c1', 'c2']
    a = ds.get_data_info(0)
    assert a['modalities'] == ('t1c', 't2')
    assert a['seg_path'].endswith('c1_seg.nii.gz')
    assert ds.get_data_info(1)['seg_path'] is None


def test_dataset_errors(tmp_path):
    missing = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match=f'{missing!r}'):
        BrainMRIDataset(data_root=missing)
    with pytest.raises(FileNotFoundError, match='data_root is empty'):
        BrainMRIDataset()

    root = _brats(tmp_path / 'a', cases=('c1', ))
    (root / 'empty_case').mkdir()
    (root / 'empty_case' / 'readme.txt').write_text('x')
    with pytest.raises(FileNotFoundError) as err:
        BrainMRIDataset(data_root=str(root))
    assert "BrainMRIDataset: " in str(err.value)
    assert repr(str(root / 'empty_case')) in str(err.value)

    root = _brats(tmp_path / 'b', cases=('c1', ))
    bad = _save(root / 'c1' / 'c1_ct.nii.gz', _volume())
    with pytest.raises(ValueError) as err:
        BrainMRIDataset(data_root=str(root))
    assert repr(osp.abspath(bad)) in str(err.value)
    assert 'vocabulary' in str(err.value)

    root = _brats(tmp_path / 'c', cases=('c1', ))
    (root / 'm.json').write_text(
        json.dumps([dict(case='c1', images={'t1': 'c1/gone.nii.gz'})]))
    with pytest.raises(FileNotFoundError) as err:
        BrainMRIDataset(data_root=str(root), ann_file='m.json')
    assert repr(str(root / 'c1' / 'gone.nii.gz')) in str(err.value)

    (root / 'e.json').write_text('[]')
    with pytest.raises(ValueError, match='lists no study') as err:
        BrainMRIDataset(data_root=str(root), ann_file='e.json')
    assert str(root / 'e.json') in str(err.value)
    (root / 'e.csv').write_text('case,modality,path\n')
    with pytest.raises(ValueError, match='lists no study'):
        BrainMRIDataset(data_root=str(root), ann_file='e.csv')
    (root / 'u.csv').write_text('case,modality,path\nc1,xray,c1/c1_t1.nii.gz')
    with pytest.raises(ValueError, match="'xray'") as err:
        BrainMRIDataset(data_root=str(root), ann_file='u.csv')
    assert str(root / 'c1' / 'c1_t1.nii.gz') in str(err.value)


# ----------------------------------------------------------------- loading
def test_load_reorients_to_ras(tmp_path):
    vol = np.zeros(SHAPE, np.float32)
    vol[1, 2, 3] = 7.0
    lab = np.zeros(SHAPE, np.uint8)
    lab[1, 2, 3] = 3
    paths = dict(t1=_save(tmp_path / 't1.nii.gz', vol),
                 t2=_save(tmp_path / 't2.nii.gz', vol * 2))
    seg = _save(tmp_path / 'seg.nii.gz', lab)
    res = LoadMRIStudy()(
        dict(img_path=paths, seg_path=seg, modalities=('t2', 't1')))
    img = res['img']
    assert img.shape == (2, ) + SHAPE and img.dtype == np.float32
    assert res['modalities'] == ('t2', 't1')
    # x and y are flipped: voxel (1, 2, 3) goes to (16-1-1, 20-1-2, 3)
    assert img[1, 14, 17, 3] == 7.0 and img[0, 14, 17, 3] == 14.0
    assert img[1, 1, 2, 3] == 0.0
    assert res['gt_seg'].dtype == np.int64 and res['gt_seg'][14, 17, 3] == 3
    assert res['canvas_shape'] == SHAPE and res['canvas_offset'] == (0, 0, 0)
    raw = LoadMRIStudy(reorient_ras=False)(dict(img_path=paths))
    assert raw['img'][0, 1, 2, 3] == 7.0 and 'gt_seg' not in raw
    assert raw['modalities'] == ('t1', 't2')


def test_load_real_nibabel_file():
    path = osp.join(osp.dirname(nib.__file__), 'tests', 'data',
                    'anatomical.nii')
    res = LoadMRIStudy()(dict(img_path={'t1': path}))
    canon = nib.as_closest_canonical(nib.load(path))
    assert res['img'].shape == (1, ) + canon.shape[:3]
    np.testing.assert_allclose(res['img'][0],
                               np.asarray(canon.dataobj, np.float32))
    assert res['canvas_shape'] == tuple(canon.shape[:3])


def test_load_errors_and_repairs(tmp_path):
    t1 = _save(tmp_path / 't1.nii.gz', _volume())
    small = _save(tmp_path / 'small.nii.gz', np.zeros((16, 20, 11)))
    with pytest.raises(ValueError) as err:
        LoadMRIStudy()(dict(img_path=dict(t1=t1, t2=small)))
    msg = str(err.value)
    assert repr(t1) in msg and repr(small) in msg
    assert '(16, 20, 11)' in msg and str(SHAPE) in msg

    single = _save(tmp_path / 's4.nii.gz', _volume()[..., None])
    res = LoadMRIStudy()(dict(img_path=dict(t1=t1, t2=single)))
    assert res['img'].shape == (2, ) + SHAPE
    np.testing.assert_array_equal(res['img'][0], res['img'][1])
    real4d = _save(tmp_path / 'r4.nii.gz', np.zeros(SHAPE + (3, )))
    with pytest.raises(ValueError, match=repr(real4d)):
        LoadMRIStudy()(dict(img_path=dict(t1=real4d)))

    broken = tmp_path / 'broken.nii.gz'
    broken.write_bytes(b'not a nifti file at all')
    with pytest.raises(OSError, match=repr(str(broken))):
        LoadMRIStudy()(dict(img_path=dict(t1=str(broken))))

    vol = _volume()
    vol[0, 0, 0], vol[1, 1, 1] = np.nan, np.inf
    nan = _save(tmp_path / 'nan.nii.gz', vol)
    load = LoadMRIStudy()
    with pytest.warns(UserWarning, match=repr(nan)):
        res = load(dict(img_path=dict(t1=nan)))
    assert np.isfinite(res['img']).all()
    assert res['img'][0, 15, 19, 0] == 0  # (0, 0, 0) after the LPS flip
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # second time: silent
        load(dict(img_path=dict(t1=nan)))
    with pytest.raises(ValueError, match=repr(nan)):
        LoadMRIStudy(nan_policy='error')(dict(img_path=dict(t1=nan)))


# -------------------------------------------------------------- transforms
def test_percentile_normalize():
    ch0 = np.zeros((1, 101, 1, 1), np.float32)
    ch0[0, 1:, 0, 0] = np.arange(1, 101)  # foreground 1..100, one zero
    img = np.concatenate([ch0, ch0 * 10, np.zeros_like(ch0)])
    out = PercentileNormalize(low=5, high=95)(dict(img=img))['img']
    lo, hi = np.percentile(np.arange(1, 101), (5, 95))
    assert out.dtype == np.float32
    assert out[0, 0, 0, 0] == 0  # background stays 0
    np.testing.assert_allclose(out[0, 50, 0, 0], (50 - lo) / (hi - lo),
                               rtol=1e-5)
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5)  # per channel
    assert out[0].min() == 0 and out[0].max() == 1
    assert not out[2].any()
    raw = PercentileNormalize(clip=False)(dict(img=img))['img']
    assert raw[0].max() > 1 and raw[0, 1:].min() < 0


def test_foreground_crop_and_offset():
    img = np.zeros((2, ) + SHAPE, np.float32)
    img[0, 3:6, 4:9, 2:3] = 1
    img[1, 7, 10, 5] = 1
    seg = np.zeros(SHAPE, np.int64)
    seg[7, 10, 5] = 4
    res = ForegroundCrop()(
        dict(img=img, gt_seg=seg, canvas_offset=(1, 1, 1)))
    assert res['img'].shape == (2, 5, 7, 4)
    assert res['gt_seg'].shape == (5, 7, 4)
    assert res['canvas_offset'] == (4, 5, 3)
    assert res['gt_seg'][7 - 3, 10 - 4, 5 - 2] == 4
    res = ForegroundCrop(margin=2)(dict(img=img))
    assert res['canvas_offset'] == (1, 2, 0)
    assert res['img'].shape == (2, 9, 11, 8)


def test_sample_modalities():
    img = np.stack([np.full((2, 2, 2), i, np.float32) for i in range(3)])
    mods = ('t1', 't1c', 't2')
    np.random.seed(0)
    for _ in range(10):
        res = SampleModalities(num=2)(dict(img=img, modalities=mods))
        idx = [int(res['img'][k, 0, 0, 0]) for k in range(2)]
        assert len(set(idx)) == 2
        assert res['modalities'] == tuple(mods[i] for i in idx)
    seen_dup = set()
    for _ in range(10):
        res = SampleModalities(num=4)(dict(img=img[:2],
                                               modalities=mods[:2]))
        idx = [int(res['img'][k, 0, 0, 0]) for k in range(4)]
        assert res['img'].shape == (4, 2, 2, 2)
        assert set(idx) == {0, 1}  # every channel kept, one duplicated
        assert res['modalities'] == tuple(mods[i] for i in idx)
        seen_dup.add(max(set(idx), key=idx.count))
    assert seen_dup == {0, 1}  # the duplicate is random


def test_random_slice_skips_empty_and_reports_canvas_index():
    img = np.zeros((2, 6, 5, 8), np.float32)
    img[0, :, :, 3] = 1  # full slice
    img[1, 0, 0, 6] = 1  # 1/30 foreground
    seg = np.zeros((6, 5, 8), np.int64)
    seg[:, :, 3] = 1
    np.random.seed(0)
    picked = set()
    for _ in range(20):
        res = RandomSlice2D(axis=2, min_foreground=0.05)(
            dict(img=img, gt_seg=seg, canvas_offset=(0, 0, 10)))
        picked.add(res['slice_index'])
        assert res['img'].shape == (2, 6, 5)
        assert res['gt_seg'].shape == (6, 5)
        assert res['canvas_axis'] == 2
    assert picked == {13}
    assert res['gt_seg'].all() and res['img'][0].all()
    picked = {
        RandomSlice2D(min_foreground=0.01)(dict(
            img=img, canvas_offset=(0, 0, 10)))['slice_index']
        for _ in range(40)
    }
    assert picked == {13, 16}
    picked = {
        RandomSlice2D(axis=0, skip_empty=False)(dict(
            img=img, canvas_offset=(2, 0, 0)))['slice_index']
        for _ in range(60)
    }
    assert picked == set(range(2, 8))
    assert RandomSlice2D(axis=0)(dict(img=img))['img'].shape == (2, 5, 8)


def test_random_patch_offset_and_padding():
    img = np.arange(10 * 4 * 6, dtype=np.float32).reshape(1, 10, 4, 6) + 1
    seg = np.ones((10, 4, 6), np.int64)
    np.random.seed(0)
    starts = set()
    for _ in range(30):
        res = RandomPatch3D(size=(5, 8, 6), pad_value=-1)(
            dict(img=img, gt_seg=seg, canvas_offset=(2, 3, 4)))
        x0, y0, z0 = res['canvas_offset']
        assert res['img'].shape == (1, 5, 8, 6)
        assert res['gt_seg'].shape == (5, 8, 6)
        assert y0 == 3 - 2 and z0 == 4  # y padded by 2 before, 2 after
        sx = x0 - 2
        starts.add(sx)
        np.testing.assert_array_equal(res['img'][0, :, 2:6],
                                      img[0, sx:sx + 5])
        assert (res['img'][0, :, :2] == -1).all()
        assert (res['img'][0, :, 6:] == -1).all()
        assert (res['gt_seg'][:, :2] == 0).all()
        assert (res['gt_seg'][:, 2:6] == 1).all()
    assert starts == set(range(6))
    assert RandomPatch3D(size=3)(dict(img=img))['img'].shape == (1, 3, 3,
                                                                      3)


def test_pack_inputs():
    img = np.random.rand(2, 4, 5).astype(np.float32)
    seg = np.arange(20).reshape(4, 5)
    out = PackMRIInputs()(
        dict(img=img, gt_seg=seg, case='c1', modalities=('t1', 't2'),
             canvas_offset=(1, 2, 3), canvas_shape=(8, 8, 8), slice_index=5,
             canvas_axis=2))
    assert isinstance(out['inputs'], torch.Tensor)
    assert out['inputs'].dtype == torch.float32
    torch.testing.assert_close(out['inputs'], torch.from_numpy(img))
    ds = out['data_samples']
    assert isinstance(ds, DataSample)
    assert ds.case == 'c1' and ds.modalities == ('t1', 't2')
    assert ds.canvas_offset == (1, 2, 3) and ds.slice_index == 5
    assert ds.canvas_shape == (8, 8, 8)
    assert 'case' in ds.metainfo_keys() and 'gt_seg' in ds.keys()
    assert ds.gt_seg.dtype == torch.int64
    assert torch.equal(ds.gt_seg, torch.from_numpy(seg))
    out = PackMRIInputs()(dict(img=img, case='c2'))
    assert 'gt_seg' not in out['data_samples']
    assert 'slice_index' not in out['data_samples'].metainfo_keys()


# ---------------------------------------------------------------- pipeline
def test_full_pipeline_from_config(tmp_path):
    root = _brats(tmp_path / 'brats', cases=('c1', ), mods=('t1', 't2f'))
    pipeline_3d = [
        dict(type='LoadMRIStudy'),
        dict(type='ForegroundCrop', margin=1),
        dict(type='PercentileNormalize'),
        dict(type='SampleModalities', num=4),
        dict(type='RandomPatch3D', size=(8, 16, 16)),
        dict(type='PackMRIInputs'),
    ]
    ds = DATASETS.build(
        dict(type='BrainMRIDataset', data_root=str(root),
             pipeline=pipeline_3d))
    out = ds[0]
    assert out['inputs'].shape == (4, 8, 16, 16)
    assert 0 <= float(out['inputs'].min()) and float(
        out['inputs'].max()) <= 1
    sample = out['data_samples']
    assert sorted(set(sample.modalities)) == ['flair', 't1']
    assert len(sample.modalities) == 4 and sample.case == 'c1'
    assert sample.canvas_shape == SHAPE
    assert sample.gt_seg.shape == (8, 16, 16)
    # the foreground box is x 3:13, y 4:16, z 2:10 before the LPS flip;
    # after it: x 3:13, y 4:16, margin 1 -> crop starts at (2, 3, 1)
    x0, y0, z0 = sample.canvas_offset
    assert 2 <= x0 <= 2 + 12 - 8 and y0 == 3 - 1 and z0 == 1 - 3

    pipeline_2d = Compose([
        TRANSFORMS.build(t) for t in [
            dict(type='LoadMRIStudy'),
            dict(type='ForegroundCrop'),
            dict(type='PercentileNormalize'),
            dict(type='RandomSlice2D', axis=2),
            dict(type='PackMRIInputs'),
        ]
    ])
    out = pipeline_2d(ds.get_data_info(0))
    assert out['inputs'].shape == (2, 10, 12)
    assert 2 <= out['data_samples'].slice_index < 10
    assert out['data_samples'].gt_seg.shape == (10, 12)
