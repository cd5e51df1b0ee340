"""BrainMVP's pre-processing as released: resampling to a voxel size, the
template canvas, the symmetric foreground box and percentiles over the box
(docs/methods.md, "BrainMVP: data and pre-processing")."""
import os.path as osp

import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmpretrain.structures import DataSample

from mics_mm.datasets.transforms import (CropPad, ForegroundCrop,
                                         LoadMRIStudy, PackMRIInputs,
                                         PercentileNormalize, PlaceOnCanvas,
                                         RandomPatch3D, RandomSlice2D,
                                         ResampleToSpacing)
from mics_mm.datasets.transforms import mri_canvas
from mics_mm.models.utils import canvas_positions, check_canvas, \
    crop_templates
from mics_mm.registry import TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SRI24 = (240, 240, 155)


def _save(path, data, zooms=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
          flip=False):
    affine = np.diag(list(zooms) + [1.0])
    affine[:3, 3] = origin
    if flip:  # LPS-like: x and y run backwards
        affine[0, 0], affine[1, 1] = -zooms[0], -zooms[1]
    nib.save(nib.Nifti1Image(np.asarray(data), affine), str(path))
    return str(path)


def _blob(shape, seed=0, margin=(6, 6, 6)):
    """Values in (0, 1] inside a box (maximum exactly 1), zeros outside."""
    rng = np.random.default_rng(seed)
    vol = np.zeros(shape, np.float32)
    box = tuple(slice(m, s - m) for m, s in zip(margin, shape))
    vol[box] = 0.05 + 0.95 * rng.random(vol[box].shape, np.float32)
    vol[tuple(s // 2 for s in shape)] = 1.0
    return vol


class _Log:
    """Record print_log calls of a module."""

    def __init__(self):
        self.messages = []

    def __call__(self, msg, logger=None, level=None):
        self.messages.append((level, msg))


# ------------------------------------------------------------ percentiles
def test_percentile_box_and_nonzero_differ_as_hand_computed():
    # one channel: five background zeros and the values 1..5
    img = np.array([0, 0, 0, 0, 0, 1, 2, 3, 4, 5],
                   np.float32).reshape(1, 10, 1, 1)
    # non-zero voxels 1..5: p10 = 1.4, p90 = 4.6 (linear interpolation)
    nonzero = PercentileNormalize(low=10, high=90, mask='nonzero')(
        dict(img=img.copy()))['img'].ravel()
    np.testing.assert_allclose(
        nonzero, [0, 0, 0, 0, 0, 0, 0.6 / 3.2, 1.6 / 3.2, 2.6 / 3.2, 1],
        atol=1e-6)
    # the whole box 0,0,0,0,0,1..5: p10 = 0, p90 = 4.1
    box = PercentileNormalize(low=10, high=90, mask='box')(
        dict(img=img.copy()))['img'].ravel()
    np.testing.assert_allclose(
        box, [0, 0, 0, 0, 0, 1 / 4.1, 2 / 4.1, 3 / 4.1, 4 / 4.1, 1],
        atol=1e-6)
    assert box[7] - nonzero[7] == pytest.approx(3 / 4.1 - 0.5, abs=1e-6)
    # without clipping the box mode scales every voxel, background too
    raw = PercentileNormalize(low=10, high=90, clip=False, mask='box')(
        dict(img=img.copy() + 1))['img'].ravel()  # background 1: p10 = 1
    np.testing.assert_allclose(raw[:5], 0, atol=1e-6)
    assert raw[-1] == pytest.approx(5 / 4.1)
    # a box that is mostly background: p5 = p95 = 0 -> step at 0
    flat = np.zeros((1, 100, 1, 1), np.float32)
    flat[0, :3, 0, 0] = (2, 5, 9)
    out = PercentileNormalize(mask='box')(dict(img=flat))['img'].ravel()
    assert out[:3].tolist() == [1, 1, 1] and not out[3:].any()
    with pytest.raises(ValueError, match="'box'"):
        PercentileNormalize(mask='brain')
    assert "mask='box'" in repr(PercentileNormalize(mask='box'))


# --------------------------------------------------------- symmetric crop
def test_symmetric_foreground_crop_is_the_release_box():
    img = np.zeros((1, 10, 11, 10), np.float32)
    img[0, 2:5, 2:5, 6:9] = 1  # foreground [2, 5) [2, 5) [6, 9)
    seg = (img[0] > 0).astype(np.int64)
    res = ForegroundCrop(symmetric=True)(
        dict(img=img, gt_seg=seg, canvas_offset=(1, 2, 3)))
    # n=10, c=5: d=max(3, 0)=3 -> [2, 8); n=11, c=5.5: d=3.5 -> [2, 9);
    # n=10, c=5, box [6, 9): d=max(1, 4)=4 -> [1, 9)
    assert res['img'].shape == (1, 6, 7, 8)
    assert res['canvas_offset'] == (1 + 2, 2 + 2, 3 + 1)
    assert res['gt_seg'].sum() == 27
    tight = ForegroundCrop()(dict(img=img))
    assert tight['img'].shape == (1, 3, 3, 3)
    assert tight['canvas_offset'] == (2, 2, 6)


# ------------------------------------------------------------- resampling
def test_load_records_affine_and_rejects_other_grids(tmp_path):
    vol = _blob((16, 20, 12), margin=(3, 3, 3))
    t1 = _save(tmp_path / 't1.nii.gz', vol, zooms=(2, 1.5, 3), flip=True)
    res = LoadMRIStudy()(dict(img_path=dict(t1=t1)))
    assert res['spacing'] == pytest.approx((2, 1.5, 3))
    assert (np.diag(res['affine'])[:3] > 0).all()  # RAS after reorienting
    # same shape, other voxel size: another grid
    t2 = _save(tmp_path / 't2.nii.gz', vol, zooms=(2, 1.5, 2.5))
    with pytest.raises(ValueError, match='voxel size') as err:
        LoadMRIStudy()(dict(img_path=dict(t1=t1, t2=t2)))
    assert repr(t1) in str(err.value) and repr(t2) in str(err.value)
    seg = _save(tmp_path / 'seg.nii.gz', (vol > 0).astype(np.uint8),
                zooms=(1, 1, 1))
    with pytest.raises(ValueError, match='label') as err:
        LoadMRIStudy()(dict(img_path=dict(t1=t1), seg_path=seg))
    assert repr(seg) in str(err.value)


def test_resample_to_spacing_keeps_world_positions(tmp_path):
    shape, zooms, origin = (16, 20, 12), (2.0, 1.5, 3.0), (-10., 5., 7.)
    affine = np.diag(list(zooms) + [1.0])
    affine[:3, 3] = origin
    ijk = np.stack(np.meshgrid(*map(np.arange, shape), indexing='ij'), -1)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    img = np.stack([world[..., 0] + 100, world[..., 2] + 100])  # ramps
    seg = np.zeros(shape, np.int64)
    seg[4:8, 5:10, 3:6] = 3
    res = ResampleToSpacing(pixdim=1.0)(
        dict(img=img.astype(np.float32), gt_seg=seg, affine=affine,
             canvas_shape=shape, canvas_offset=(0, 0, 0)))
    # MONAI's Spacing keeps the extent: (n - 1) * zoom + 1 voxels
    assert res['img'].shape == (2, 31, 30, 34)
    assert res['img'].dtype == np.float32
    assert res['gt_seg'].shape == (31, 30, 34)
    assert res['gt_seg'].dtype == np.int64
    assert res['spacing'] == pytest.approx((1, 1, 1))
    assert res['canvas_shape'] == (31, 30, 34)
    assert res['canvas_offset'] == (0, 0, 0)
    new = res['affine']
    # a linear ramp is interpolated exactly: each voxel holds its world
    # coordinate, on the new grid's affine
    ijk = np.stack(np.meshgrid(*map(np.arange, (31, 30, 34)),
                               indexing='ij'), -1)
    world = ijk @ new[:3, :3].T + new[:3, 3]
    np.testing.assert_allclose(res['img'][0], world[..., 0] + 100,
                               atol=1e-3)
    np.testing.assert_allclose(res['img'][1], world[..., 2] + 100,
                               atol=1e-3)
    # labels: nearest neighbour, same values, same place in the world
    assert set(np.unique(res['gt_seg'])) == {0, 3}
    inside = world[res['gt_seg'] == 3]
    lo = affine[:3, :3] @ [4, 5, 3] + affine[:3, 3]
    hi = affine[:3, :3] @ [7, 9, 5] + affine[:3, 3]
    half = np.asarray(zooms) / 2
    assert (inside >= lo - half - 1e-6).all()
    assert (inside <= hi + half + 1e-6).all()


def test_resample_noop_at_target_spacing_and_guards():
    img = np.random.rand(1, 5, 6, 7).astype(np.float32)
    res = ResampleToSpacing(pixdim=(2, 2, 2))(
        dict(img=img, affine=np.diag([2, 2, 2.0005, 1.0])))
    assert res['img'] is img and res['spacing'][2] == pytest.approx(2.0005)
    with pytest.raises(KeyError, match='LoadMRIStudy'):
        ResampleToSpacing()(dict(img=img))
    with pytest.raises(ValueError, match='before any crop'):
        ResampleToSpacing()(dict(img=img, affine=np.eye(4) * 2,
                                 canvas_offset=(1, 0, 0)))
    with pytest.raises(ValueError, match='pixdim'):
        ResampleToSpacing(pixdim=(1, 1))


# ------------------------------------------------------------------ canvas
def _brute_force_canvas(vol, canvas):
    """Paste ``vol`` centred on a zero canvas (crop where it is larger)."""
    out = np.zeros(canvas, vol.dtype)
    src, dst = [], []
    for dim, size in zip(vol.shape, canvas):
        if dim <= size:
            start = (size - dim) // 2
            src.append(slice(0, dim))
            dst.append(slice(start, start + dim))
        else:
            start = (dim - size) // 2
            src.append(slice(start, start + size))
            dst.append(slice(0, size))
    out[tuple(dst)] = vol[tuple(src)]
    return out


def _template_crops(canvas_vol, samples, spatial):
    """The pieces of ``canvas_vol`` (as a template) the model would use."""
    offsets, size = canvas_positions(samples, spatial)
    crops = crop_templates(
        torch.from_numpy(canvas_vol)[None],
        torch.zeros(len(samples), dtype=torch.long), offsets, size)
    return crops.reshape(len(samples), *spatial).numpy()


def test_place_on_canvas_centres_a_small_volume():
    vol = _blob((128, 62, 128))
    res = PlaceOnCanvas(canvas=SRI24)(
        dict(img=vol[None].copy(), canvas_shape=vol.shape,
             canvas_offset=(0, 0, 0)))
    assert res['canvas_offset'] == ((240 - 128) // 2, (240 - 62) // 2,
                                    (155 - 128) // 2) == (56, 89, 13)
    assert res['canvas_shape'] == SRI24
    np.testing.assert_array_equal(res['img'][0], vol)  # nothing padded
    padded = PlaceOnCanvas(canvas=SRI24, pad=True)(dict(img=vol[None]))
    assert padded['img'].shape == (1, ) + SRI24
    assert padded['canvas_offset'] == (0, 0, 0)
    np.testing.assert_array_equal(padded['img'][0],
                                  _brute_force_canvas(vol, SRI24))
    # a BraTS study is on the canvas already: it stays where it is
    brats = np.ones((1, ) + SRI24, np.float32)
    res = PlaceOnCanvas()(dict(img=brats))
    assert res['canvas_offset'] == (0, 0, 0) and res['img'] is brats


def test_place_on_canvas_crops_a_larger_axis_and_logs_once(monkeypatch):
    log = _Log()
    monkeypatch.setattr(mri_canvas, 'print_log', log)
    vol = _blob((128, 62, 200))
    seg = (vol > 0.5).astype(np.int64)
    place = PlaceOnCanvas(canvas=SRI24)
    for _ in range(3):
        res = place(dict(img=vol[None].copy(), gt_seg=seg.copy(),
                         case='big', spacing=(1.0, 1.0, 1.0)))
    start = (200 - 155) // 2
    np.testing.assert_array_equal(res['img'][0],
                                  vol[:, :, start:start + 155])
    np.testing.assert_array_equal(res['gt_seg'],
                                  seg[:, :, start:start + 155])
    assert res['canvas_offset'] == (56, 89, 0)
    assert len(log.messages) == 1  # once per study
    level, msg = log.messages[0]
    assert level == 30 and "'big'" in msg and 'Z 200 -> 155' in msg
    place(dict(img=vol[None].copy(), case='other'))
    assert len(log.messages) == 2
    with pytest.raises(ValueError, match='before any crop'):
        place(dict(img=vol[None], canvas_offset=(0, 0, 3)))
    with pytest.raises(ValueError, match='RandomSlice2D'):
        place(dict(img=vol[None, :, :, 0]))


@pytest.mark.parametrize('shape', [(128, 62, 128), (128, 62, 200)])
def test_template_crop_is_the_patch_position_on_the_canvas(shape):
    """Every patch equals the brute-force canvas at the template crop."""
    vol = _blob(shape, seed=1, margin=(9, 5, 14))
    canvas_vol = _brute_force_canvas(vol, SRI24)
    pipeline = Compose([
        PlaceOnCanvas(canvas=SRI24),
        ForegroundCrop(symmetric=True),
        RandomPatch3D(size=96),
        PackMRIInputs()
    ])
    np.random.seed(0)
    outs = [pipeline(dict(img=vol[None].copy(), case='c')) for _ in range(8)]
    samples = [o['data_samples'] for o in outs]
    check_canvas(samples, SRI24, 'test')
    patches = np.stack([o['inputs'][0].numpy() for o in outs])
    crops = _template_crops(canvas_vol, samples, patches.shape[1:])
    np.testing.assert_array_equal(crops, patches)
    assert len({s.canvas_offset for s in samples}) > 1
    # 2D: the slice index is the canvas index
    slices = Compose([
        PlaceOnCanvas(canvas=SRI24),
        ForegroundCrop(symmetric=True),
        RandomSlice2D(axis=2),
        CropPad(size=(96, 96)),
        PackMRIInputs()
    ])
    outs = [slices(dict(img=vol[None].copy(), case='c')) for _ in range(8)]
    samples = [o['data_samples'] for o in outs]
    images = np.stack([o['inputs'][0].numpy() for o in outs])
    crops = _template_crops(canvas_vol, samples, images.shape[1:])
    np.testing.assert_array_equal(crops, images)
    assert all(canvas_vol[..., s.slice_index].any() for s in samples)


def test_canvas_position_matches_the_release_formula():
    """The release: template start = patch start in the (symmetric) box
    + (canvas - box) // 2; ours agrees within a voxel of rounding."""
    for shape, margin in [((128, 62, 128), (9, 5, 14)),
                          ((131, 63, 127), (20, 3, 7)),
                          ((97, 80, 150), (3, 30, 11))]:
        vol = _blob(shape, margin=margin)
        placed = PlaceOnCanvas(canvas=SRI24)(dict(img=vol[None]))
        box = ForegroundCrop(symmetric=True)(placed)
        ours = np.asarray(box['canvas_offset'])  # box origin on the canvas
        release = (np.asarray(SRI24) - box['img'].shape[1:]) // 2
        assert np.abs(ours - release).max() <= 1, (shape, ours, release)


# ------------------------------------------ the whole 3D pipeline, off-grid
@pytest.mark.slow
def test_brainmvp_3d_pipeline_takes_a_study_on_another_grid(tmp_path):
    """A 128 x 62 x 128 study of 1.5 x 2 x 1.2 mm voxels (like ITK's
    KmeansTest_T1UCharRaw, which is not installed here) goes through the
    BraTS pre-training pipeline and lands on the SRI24 canvas; before,
    its 128 x 62 x 128 canvas stopped training (check_canvas)."""
    shape = (128, 62, 128)
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, s) for s in shape],
                                indexing='ij'))
    head = (grid**2).sum(0) < 0.8
    paths = {}
    for i, mod in enumerate(('t1', 'flair')):
        vol = (head * (80 + 40 * i + 20 * rng.random(shape))).astype(np.uint8)
        paths[mod] = _save(tmp_path / f'k_{mod}.nii.gz', vol,
                           zooms=(1.5, 2.0, 1.2), origin=(-96, -62, -77),
                           flip=True)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/brats_brainmvp.py'))
    pipeline = Compose([TRANSFORMS.build(t) for t in cfg.train_pipeline])
    study = dict(img_path=paths, case='kmeans', modalities=('t1', 'flair'))
    old = LoadMRIStudy()(dict(study))
    with pytest.raises(ValueError, match='canvas'):
        check_canvas([DataSample(metainfo=dict(
            canvas_shape=old['canvas_shape'], case='kmeans'))], SRI24, 'old')
    np.random.seed(0)
    out = pipeline(dict(study))
    sample = out['data_samples']
    assert out['inputs'].shape == (4, 96, 96, 96)
    assert 0 <= float(out['inputs'].min()) <= float(out['inputs'].max()) <= 1
    assert sample.canvas_shape == SRI24
    check_canvas([sample], SRI24, 'BrainMVP')  # no error now
    # 1 mm: 192 x 123 x 153, centred on the canvas
    load = Compose([TRANSFORMS.build(t) for t in cfg.train_pipeline[:4]])
    placed = load(dict(study))
    assert placed['img'].shape[1:] == (192, 123, 153)
    assert placed['canvas_offset'] == (24, 58, 1)
