"""FashionMNISTMultiModal and GradientMagnitude on SYNTHETIC idx files."""
import gzip
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mics_mm.datasets import FashionMNISTMultiModal
from mics_mm.datasets.fashion_mnist import read_idx
from mics_mm.datasets.transforms import GradientMagnitude, gradient_magnitude
from mics_mm.testing.fashion_mnist import (make_synthetic_fashion_mnist,
                                           write_idx)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('gz', [True, False])
def test_reads_gzipped_and_plain_idx(tmp_path, gz):
    root = make_synthetic_fashion_mnist(str(tmp_path), 50, 20, gz=gz)
    ds = FashionMNISTMultiModal(data_root=root, split='train')
    assert len(ds) == 50
    info = ds.get_data_info(3)
    assert info['gt_label'] == 3
    img = info['img']['image']
    assert img.shape == (28, 28, 3) and img.dtype == np.uint8
    assert (img[..., 0] == ds.images[3]).all()
    assert info['modalities'] == ('image', 'gradient')
    assert len(FashionMNISTMultiModal(data_root=root, split='test')) == 20


def test_fraction_is_class_balanced_and_seeded(tmp_path):
    root = make_synthetic_fashion_mnist(str(tmp_path), 1000, 10)
    a = FashionMNISTMultiModal(data_root=root, fraction=0.05, subset_seed=0)
    b = FashionMNISTMultiModal(data_root=root, fraction=0.05, subset_seed=0)
    c = FashionMNISTMultiModal(data_root=root, fraction=0.05, subset_seed=1)
    labels = a.get_gt_labels()
    assert len(a) == 50 and np.bincount(labels, minlength=10).tolist() == \
        [5] * 10
    idx = [d['index'] for d in a.data_list]
    assert idx == [d['index'] for d in b.data_list]
    assert idx != [d['index'] for d in c.data_list]


def test_missing_folder_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match='dataset-fashion-mnist'):
        FashionMNISTMultiModal(data_root=str(tmp_path / 'nope'))
    with pytest.raises(FileNotFoundError, match='train-images-idx3-ubyte'):
        FashionMNISTMultiModal(data_root=str(tmp_path))


def test_corrupt_files_are_named(tmp_path):
    path = write_idx(str(tmp_path / 'x'), np.zeros((4, 28, 28)))
    with gzip.open(path) as f:
        data = f.read()
    with gzip.open(path, 'wb') as f:
        f.write(data[:-10])
    with pytest.raises(ValueError, match='truncated'):
        read_idx(str(tmp_path / 'x'))
    (tmp_path / 'y').write_bytes(b'\x01\x02\x03\x04rest')
    with pytest.raises(ValueError, match='magic'):
        read_idx(str(tmp_path / 'y'))
    (tmp_path / 'z.gz').write_bytes(b'not gzip')
    with pytest.raises(ValueError, match='cannot read'):
        read_idx(str(tmp_path / 'z'))


def test_gradient_magnitude_is_a_deterministic_edge_map():
    img = np.zeros((28, 28, 3), np.uint8)
    img[8:20, 8:20] = 200
    g = gradient_magnitude(img)
    assert g.shape == (28, 28, 3) and g.dtype == np.uint8
    assert g.max() == 255
    # flat regions (inside the square, far background) have no gradient
    assert g[14, 14].max() == 0 and g[2, 2].max() == 0
    # the square's border does
    assert g[8, 14, 0] > 100 and g[14, 19, 0] > 100
    assert (gradient_magnitude(img) == g).all()
    assert gradient_magnitude(np.full((28, 28, 3), 7, np.uint8)).max() == 0


def test_gradient_transform_adds_the_modality_in_order():
    img = np.random.default_rng(0).integers(0, 255, (28, 28, 3), np.uint8)
    out = GradientMagnitude()(dict(img={'image': img},
                                   modalities=('image', 'gradient')))
    assert list(out['img']) == ['image', 'gradient']
    assert (out['img']['gradient'] == gradient_magnitude(img)).all()
    with pytest.raises(KeyError, match='needs results'):
        GradientMagnitude()(dict(img={'wli': img}))
    with pytest.raises(ValueError):
        GradientMagnitude(src='a', dst='a')


def test_pretrain_pipeline_gives_both_modalities(tmp_path):
    root = make_synthetic_fashion_mnist(str(tmp_path), 20, 10)
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/mics/'
        'mics_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py'))
    ds_cfg = dict(cfg.train_dataloader.dataset, data_root=root)
    ds_cfg.pop('type')
    ds = FashionMNISTMultiModal(**ds_cfg)
    packed = ds[0]
    assert set(packed['inputs']) == {'image', 'gradient'}
    assert tuple(packed['inputs']['image'].shape) == (3, 32, 32)
