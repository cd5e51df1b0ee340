"""Tests of the multimodal data transforms (loading, simulated NBI, shared /
per-modality augmentation, packing, full pipelines)."""
import pickle
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import mics_mm  # noqa: F401  (registers the transforms)
from mics_mm.datasets.transforms import (ImageLoadError,
                                         LoadMultiModalImages,
                                         MissingModalityError,
                                         PackMultiModalInputs,
                                         PerModalityTransforms,
                                         SharedModalityTransforms,
                                         SimulatedNBI, simulate_nbi)
from mics_mm.registry import TRANSFORMS
from mmpretrain.structures import DataSample


def _rand_img(seed: int, h: int = 40, w: int = 60) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, 256, (h, w, 3), dtype=np.uint8)


def _write(path: Path, img: np.ndarray) -> str:
    assert cv2.imwrite(str(path), img)
    return str(path)


def _sample(imgs: dict, modalities=('wli', 'nbi'), **extra) -> dict:
    """A results dict as the loader leaves it."""
    first = next(iter(imgs.values()))
    return dict(
        img={m: v.copy() for m, v in imgs.items()},
        img_shape=first.shape[:2],
        ori_shape=first.shape[:2],
        modalities=modalities,
        img_path={m: f'/data/{m}.png' for m in imgs},
        **extra)


# ------------------------------------------------------------------ loading


def test_load_paths_dict_in_modality_order(tmp_path):
    wli, nbi = _rand_img(0), _rand_img(1)
    results = LoadMultiModalImages()(
        dict(
            img_path={  # deliberately not in `modalities` order
                'nbi': _write(tmp_path / 'n.png', nbi),
                'wli': _write(tmp_path / 'w.png', wli)
            },
            modalities=('wli', 'nbi'),
            gt_label=2,
            sample_idx=5))
    assert list(results['img']) == ['wli', 'nbi']
    np.testing.assert_array_equal(results['img']['wli'], wli)
    np.testing.assert_array_equal(results['img']['nbi'], nbi)
    assert results['img']['wli'].dtype == np.uint8
    assert results['img_shape'] == (40, 60)
    assert results['ori_shape'] == (40, 60)
    assert results['gt_label'] == 2 and results['sample_idx'] == 5


def test_load_wli_only_and_string_path(tmp_path):
    wli = _rand_img(0)
    path = _write(tmp_path / 'w.jpg', wli)
    out = LoadMultiModalImages()(
        dict(img_path={'wli': path}, modalities=('wli', 'nbi')))
    assert list(out['img']) == ['wli']
    out = LoadMultiModalImages(to_float32=True)(
        dict(img_path=path, modalities=('wli', 'nbi')))
    assert list(out['img']) == ['wli']
    assert out['img']['wli'].dtype == np.float32


@pytest.mark.parametrize('color_type', ['color', 'grayscale', 'unchanged'])
def test_load_grayscale_gives_three_channels(tmp_path, color_type):
    grey = np.random.default_rng(0).integers(0, 256, (20, 30), np.uint8)
    path = _write(tmp_path / 'g.png', grey)
    out = LoadMultiModalImages(color_type=color_type)(
        dict(img_path={'wli': path}))
    img = out['img']['wli']
    assert img.shape == (20, 30, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[..., c], grey)


def test_load_missing_file_names_file_and_fix(tmp_path):
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(ImageLoadError) as err:
        LoadMultiModalImages()(dict(img_path={'wli': missing}))
    assert isinstance(err.value, OSError)
    assert missing in str(err.value)
    assert 'make_splits.py' in str(err.value)


def test_load_zero_byte_file(tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(ImageLoadError, match='empty') as err:
        LoadMultiModalImages()(dict(img_path={'wli': str(empty)}))
    assert str(empty) in str(err.value)


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_load_corrupt_file(tmp_path, backend):
    good = _write(tmp_path / 'good.png', _rand_img(0))
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'this is not an image' * 10)
    with pytest.raises(ImageLoadError) as err:
        LoadMultiModalImages(imdecode_backend=backend)(
            dict(img_path={'wli': good, 'nbi': str(bad)}))
    assert str(bad) in str(err.value)
    assert 're-export the image' in str(err.value)


def test_load_size_mismatch_resize(tmp_path):
    wli = np.full((40, 60, 3), 30, np.uint8)
    nbi = np.zeros((20, 30, 3), np.uint8)
    nbi[..., 0] = 200
    nbi[:, :15, 1] = 100  # left half
    paths = {
        'wli': _write(tmp_path / 'w.png', wli),
        'nbi': _write(tmp_path / 'n.png', nbi)
    }
    with pytest.warns(UserWarning, match='resized'):
        out = LoadMultiModalImages()(
            dict(img_path=paths, modalities=('wli', 'nbi')))
    assert out['img']['nbi'].shape == (40, 60, 3)
    assert out['img_shape'] == (40, 60)
    assert (out['img']['nbi'][..., 0] == 200).all()
    assert (out['img']['nbi'][:, :28, 1] == 100).all()
    assert (out['img']['nbi'][:, 32:, 1] == 0).all()
    np.testing.assert_array_equal(out['img']['wli'], wli)


def test_load_size_mismatch_error(tmp_path):
    paths = {
        'wli': _write(tmp_path / 'w.png', _rand_img(0, 40, 60)),
        'nbi': _write(tmp_path / 'n.png', _rand_img(1, 20, 30))
    }
    with pytest.raises(ValueError) as err:
        LoadMultiModalImages(size_mismatch='error')(
            dict(img_path=paths, modalities=('wli', 'nbi')))
    msg = str(err.value)
    assert paths['wli'] in msg and paths['nbi'] in msg
    assert '40x60' in msg and '20x30' in msg
    with pytest.raises(ValueError):
        LoadMultiModalImages(size_mismatch='crop')


# ------------------------------------------------------------ simulated NBI


def _stretch(c: np.ndarray, lo_p=1.0, hi_p=99.0) -> np.ndarray:
    c = c.astype(np.float64)
    lo, hi = np.percentile(c, (lo_p, hi_p))
    return np.clip((c - lo) / (hi - lo), 0, 1)


def test_simulated_nbi_shape_dtype_determinism():
    img = _rand_img(3, 48, 64)
    out1 = simulate_nbi(img)
    out2 = simulate_nbi(img.copy())
    assert out1.shape == img.shape and out1.dtype == np.uint8
    np.testing.assert_array_equal(out1, out2)
    out_f = simulate_nbi(img.astype(np.float32))
    assert out_f.dtype == np.float32 and out_f.shape == img.shape
    assert np.abs(out_f - out1.astype(np.float32)).max() <= 1.0
    t = SimulatedNBI()
    a = t(_sample({'wli': img}))['img']['nbi']
    b = t(_sample({'wli': img}))['img']['nbi']
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, out1)


def test_simulated_nbi_blue_signal_goes_to_display_g_and_b():
    rng = np.random.default_rng(0)
    img = np.zeros((32, 48, 3), np.uint8)
    img[..., 0] = np.tile(np.linspace(20, 220, 48).astype(np.uint8), (32, 1))
    img[..., 2] = rng.integers(0, 256, (32, 48))  # WLI red: must be ignored
    out = simulate_nbi(
        img, clahe_clip_limit=0, gamma_blue=1.0, gamma_green=1.0)
    expected = np.round(_stretch(img[..., 0]) * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)  # display B
    np.testing.assert_array_equal(out[..., 1], expected)  # display G
    assert (out[..., 2] == 0).all()  # display R <- empty WLI green
    assert out[..., 0].min() == 0 and out[..., 0].max() == 255

    img2 = img.copy()
    img2[..., 2] = 255 - img2[..., 2]
    np.testing.assert_array_equal(simulate_nbi(img2), simulate_nbi(img))


def test_simulated_nbi_green_signal_goes_to_display_r_with_gamma():
    img = np.zeros((32, 48, 3), np.uint8)
    img[..., 1] = np.tile(
        np.linspace(50, 150, 32).astype(np.uint8)[:, None], (1, 48))
    out = simulate_nbi(
        img, clahe_clip_limit=0, gamma_blue=1.0, gamma_green=2.0)
    expected = np.round(_stretch(img[..., 1])**2 * 255).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 2], expected)
    assert (out[..., :2] == 0).all()
    # custom percentiles change the stretch
    out_p = simulate_nbi(
        img,
        low_percentile=10,
        high_percentile=90,
        clahe_clip_limit=0,
        gamma_green=1.0)
    expected_p = np.round(_stretch(img[..., 1], 10, 90) * 255)
    np.testing.assert_array_equal(out_p[..., 2], expected_p)
    with pytest.raises(ValueError):
        simulate_nbi(img, low_percentile=90, high_percentile=10)


def test_simulated_nbi_defaults_keep_channel_mapping():
    img = _rand_img(5, 64, 64)
    out = simulate_nbi(img)
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
    assert not np.array_equal(out[..., 0], out[..., 2])
    # CLAHE is on by default: differs from the plain stretch
    plain = simulate_nbi(img, clahe_clip_limit=0)
    assert not np.array_equal(out, plain)


def test_simulated_nbi_transform_noop_overwrite_and_order():
    wli, nbi = _rand_img(0), _rand_img(1)
    t = SimulatedNBI()
    out = t(_sample({'wli': wli, 'nbi': nbi}))
    np.testing.assert_array_equal(out['img']['nbi'], nbi)
    out = SimulatedNBI(overwrite=True)(_sample({'wli': wli, 'nbi': nbi}))
    np.testing.assert_array_equal(out['img']['nbi'], simulate_nbi(wli))
    out = t(_sample({'wli': wli}, modalities=('nbi', 'wli')))
    assert list(out['img']) == ['nbi', 'wli']
    with pytest.raises(KeyError, match='wli'):
        t(_sample({'other': nbi}))
    with pytest.raises(ValueError):
        SimulatedNBI(src='wli', dst='wli')
    built = TRANSFORMS.build(dict(type='SimulatedNBI', gamma_blue=1.2))
    assert built.params['gamma_blue'] == 1.2


# ------------------------------------------------------- shared geometry


GEOMETRY = [
    dict(type='RandomResizedCrop', scale=24, crop_ratio_range=(0.2, 0.6)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]


def _marker_pair(seed: int):
    """Two images that differ in channels 1-2 but share channel 0, which
    holds a bright marker square (cv2 interpolates channels separately, so
    channel 0 of the outputs is equal iff the geometry was)."""
    rng = np.random.default_rng(seed)
    wli = rng.integers(0, 60, (48, 48, 3), dtype=np.uint8)
    nbi = rng.integers(0, 60, (48, 48, 3), dtype=np.uint8)
    nbi[..., 0] = wli[..., 0]
    y, x = rng.integers(16, 32, 2)
    wli[y:y + 6, x:x + 6, 0] = 255
    nbi[y:y + 6, x:x + 6, 0] = 255
    return wli, nbi


@pytest.mark.parametrize('share_global_rng', [True, False])
def test_shared_transforms_keep_marker_at_same_place(share_global_rng):
    # share_global_rng=False: only the @cache_randomness caching shares
    t = SharedModalityTransforms(GEOMETRY, share_global_rng=share_global_rng)
    flips, positions = set(), set()
    for seed in range(30):
        np.random.seed(seed)
        wli, nbi = _marker_pair(seed)
        out = t(_sample({'wli': wli, 'nbi': nbi}))
        a, b = out['img']['wli'], out['img']['nbi']
        assert a.shape == b.shape == (24, 24, 3)
        assert out['img_shape'] == (24, 24)
        np.testing.assert_array_equal(a[..., 0], b[..., 0])
        assert not np.array_equal(a[..., 1:], b[..., 1:])
        flips.add(out['flip'])
        marker = a[..., 0] > 150
        if marker.any():
            positions.add(tuple(np.argwhere(marker).mean(0).round()))
    assert flips == {True, False}
    assert len(positions) > 5  # the crop really is random


@pytest.mark.parametrize('share_global_rng', [True, False])
def test_shared_transforms_identical_images_stay_identical(share_global_rng):
    t = SharedModalityTransforms(
        GEOMETRY + [dict(type='ColorJitter', brightness=0.5)],
        share_global_rng=share_global_rng)
    for seed in range(10):
        np.random.seed(seed)
        img = _rand_img(seed, 48, 48)
        out = t(_sample({'wli': img, 'nbi': img.copy()}))
        np.testing.assert_array_equal(out['img']['wli'], out['img']['nbi'])


def test_without_sharing_the_same_transforms_diverge():
    """Control for the two tests above: the per-modality wrapper draws a
    new crop for each modality."""
    t = PerModalityTransforms(GEOMETRY)
    differ = 0
    for seed in range(10):
        np.random.seed(seed)
        img = _rand_img(seed, 48, 48)
        out = t(_sample({'wli': img, 'nbi': img.copy()}))
        differ += not np.array_equal(out['img']['wli'], out['img']['nbi'])
    assert differ >= 8


class _GlobalRngShift(BaseTransform):
    """A test transform drawing from NumPy's global RNG outside any
    ``@cache_randomness`` method (as torchvision wrappers do with torch)."""

    def transform(self, results):
        results['img'] = np.roll(results['img'], np.random.randint(1, 20), 1)
        return results


def test_shared_transforms_replay_global_rng():
    img = _rand_img(0, 16, 32)
    for share, expect_same in ((True, True), (False, False)):
        t = SharedModalityTransforms([_GlobalRngShift()], share_global_rng=share)
        same = []
        for seed in range(10):
            np.random.seed(seed)
            out = t(_sample({'wli': img, 'nbi': img.copy()}))
            same.append(
                np.array_equal(out['img']['wli'], out['img']['nbi']))
        assert all(same) if expect_same else sum(same) <= 2


def test_shared_transforms_torchvision_wrapper():
    t = SharedModalityTransforms(
        [dict(type='torchvision/RandomCrop', size=8)])
    img = torch.from_numpy(_rand_img(0, 20, 20).transpose(2, 0, 1).copy())
    for seed in range(5):
        torch.manual_seed(seed)
        out = t(dict(img={'wli': img, 'nbi': img.clone()}))
        assert torch.equal(out['img']['wli'], out['img']['nbi'])


def test_shared_transforms_picklable_after_use():
    t = SharedModalityTransforms(GEOMETRY)
    wli, nbi = _marker_pair(0)
    t(_sample({'wli': wli, 'nbi': nbi}))
    t2 = pickle.loads(pickle.dumps(t))
    np.random.seed(1)
    out = t2(_sample({'wli': wli, 'nbi': nbi}))
    np.testing.assert_array_equal(out['img']['wli'].min(-1) > 150,
                                  out['img']['nbi'].min(-1) > 150)
    # and the transforms inside still work on their own, without the cache
    crop = t2.transforms.transforms[0]
    a = crop(dict(img=wli.copy()))['img']
    assert a.shape == (24, 24, 3)


def test_shared_transforms_rejects_non_dict_img():
    with pytest.raises(TypeError, match='dict'):
        SharedModalityTransforms(GEOMETRY)(dict(img=_rand_img(0)))
    with pytest.raises(TypeError):
        SharedModalityTransforms(dict(type='RandomFlip', prob=0.5))


# ---------------------------------------------------- per-modality photometry


PHOTOMETRIC = [
    dict(type='ColorJitter', brightness=0.5, contrast=0.5, saturation=0.5),
]


def test_per_modality_transforms_are_independent():
    t = PerModalityTransforms(PHOTOMETRIC)
    differ = 0
    for seed in range(10):
        np.random.seed(seed)
        img = _rand_img(seed)
        out = t(_sample({'wli': img, 'nbi': img.copy()}))
        assert out['img']['wli'].shape == img.shape
        differ += not np.array_equal(out['img']['wli'], out['img']['nbi'])
    assert differ >= 9


def test_per_modality_shared_control_same_jitter():
    t = SharedModalityTransforms(PHOTOMETRIC)
    for seed in range(5):
        np.random.seed(seed)
        img = _rand_img(seed)
        out = t(_sample({'wli': img, 'nbi': img.copy()}))
        np.testing.assert_array_equal(out['img']['wli'], out['img']['nbi'])


def test_per_modality_transforms_limit_modalities():
    t = PerModalityTransforms(
        [dict(type='Solarize', thr=128, prob=1.0)], modalities=('nbi', ))
    img = _rand_img(0)
    out = t(_sample({'wli': img, 'nbi': img.copy()}))
    np.testing.assert_array_equal(out['img']['wli'], img)
    np.testing.assert_array_equal(out['img']['nbi'],
                                  np.where(img >= 128, 255 - img, img))
    # a listed modality that the sample lacks is skipped
    out = t(_sample({'wli': img}, modalities=('wli', )))
    np.testing.assert_array_equal(out['img']['wli'], img)


class _ShrinkEachCall(BaseTransform):
    """Shrinks its input by a different amount on every call."""

    def __init__(self):
        self.calls = 0

    def transform(self, results):
        self.calls += 1
        results['img'] = results['img'][self.calls:, self.calls:]
        return results


def test_per_modality_transforms_reject_geometry():
    t = PerModalityTransforms([_ShrinkEachCall()])
    with pytest.raises(RuntimeError, match='SharedModalityTransforms'):
        t(_sample({'wli': _rand_img(0), 'nbi': _rand_img(1)}))


# ------------------------------------------------------------------ packing


def test_pack_dict_of_tensors_in_modality_order():
    wli, nbi = _rand_img(0), _rand_img(1)
    results = _sample({
        'nbi': nbi,
        'wli': wli
    },
                      gt_label=3,
                      sample_idx=7)
    packed = PackMultiModalInputs()(results)
    inputs = packed['inputs']
    assert list(inputs) == ['wli', 'nbi']
    for mod, img in (('wli', wli), ('nbi', nbi)):
        x = inputs[mod]
        assert x.dtype == torch.uint8 and x.shape == (3, 40, 60)
        assert x.is_contiguous()
        np.testing.assert_array_equal(x.numpy(), img.transpose(2, 0, 1))
    ds = packed['data_samples']
    assert isinstance(ds, DataSample)
    assert ds.gt_label.tolist() == [3]
    assert ds.sample_idx == 7
    assert ds.modalities == ('wli', 'nbi')
    assert ds.img_path == {'nbi': '/data/nbi.png', 'wli': '/data/wli.png'}
    assert ds.img_shape == (40, 60) and ds.ori_shape == (40, 60)
    assert set(packed) == {'inputs', 'data_samples'}


def test_pack_without_label_and_custom_meta_keys():
    results = _sample({'wli': _rand_img(0), 'nbi': _rand_img(1)})
    packed = PackMultiModalInputs(meta_keys=('img_path', ))(results)
    ds = packed['data_samples']
    assert 'gt_label' not in ds
    assert 'img_path' in ds.metainfo_keys()
    assert 'modalities' not in ds.metainfo_keys()


def test_pack_missing_modality_error():
    results = _sample({'wli': _rand_img(0)})
    results['img_path'] = {'wli': '/data/case_17.jpg'}
    with pytest.raises(MissingModalityError) as err:
        PackMultiModalInputs()(results)
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "'nbi'" in msg and '/data/case_17.jpg' in msg
    assert 'SimulatedNBI' in msg and 'paired layout' in msg
    with pytest.raises(TypeError):
        PackMultiModalInputs()(dict(img=_rand_img(0)))


# ------------------------------------------------------------ full pipeline


def _train_pipeline():
    return [
        dict(type='LoadMultiModalImages'),
        dict(type='SimulatedNBI'),
        dict(type='SharedModalityTransforms', transforms=GEOMETRY),
        dict(
            type='PerModalityTransforms',
            transforms=[
                dict(type='ColorJitter', brightness=0.4, contrast=0.4),
                dict(type='RandomGrayscale', prob=0.2, keep_channels=True),
                dict(type='GaussianBlur', radius=1.0, prob=0.5),
            ]),
        dict(type='PackMultiModalInputs'),
    ]


@pytest.mark.parametrize('paired', [False, True])
def test_full_pipeline_from_config(tmp_path, paired):
    init_default_scope('mics_mm')
    pipeline = Compose(_train_pipeline())
    img_path = {'wli': _write(tmp_path / 'w.jpg', _rand_img(0, 48, 48))}
    if paired:
        img_path['nbi'] = _write(tmp_path / 'n.png', _rand_img(1, 48, 48))
    item = dict(
        img_path=img_path,
        gt_label=4,
        modalities=('wli', 'nbi'),
        sample_idx=11)
    np.random.seed(0)
    random.seed(0)  # RandomGrayscale draws from `random`
    packed = pipeline(dict(item))
    assert list(packed['inputs']) == ['wli', 'nbi']
    for x in packed['inputs'].values():
        assert x.shape == (3, 24, 24) and x.dtype == torch.uint8
    ds = packed['data_samples']
    assert ds.gt_label.tolist() == [4]
    assert ds.img_shape == (24, 24) and ds.ori_shape == (48, 48)
    assert ds.img_path == img_path

    # data-loader workers started with spawn receive a pickled pipeline
    clone = pickle.loads(pickle.dumps(pipeline))
    np.random.seed(0)
    random.seed(0)
    again = clone(dict(item))
    for mod in ('wli', 'nbi'):
        assert torch.equal(again['inputs'][mod], packed['inputs'][mod])


def test_pipeline_without_nbi_source_fails_at_packing(tmp_path):
    init_default_scope('mics_mm')
    pipeline = Compose([
        dict(type='LoadMultiModalImages'),
        dict(type='PackMultiModalInputs'),
    ])
    path = _write(tmp_path / 'w.jpg', _rand_img(0))
    with pytest.raises(MissingModalityError, match='SimulatedNBI'):
        pipeline(dict(img_path={'wli': path}, modalities=('wli', 'nbi')))
