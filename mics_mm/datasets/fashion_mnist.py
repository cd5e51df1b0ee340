"""Fashion-MNIST as a two-modality data set for the learning check on real
images (``tools/benchmark/fashion_mnist_check.py``)."""
import gzip
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset

from mics_mm.registry import DATASETS

__all__ = ['FashionMNISTMultiModal', 'read_idx', 'FASHION_MNIST_ROOT',
           'FASHION_MNIST_CLASSES']

#: Where Debian's ``dataset-fashion-mnist`` package installs the files.
FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist'

FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress',
                         'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                         'Ankle boot')

_FILES = dict(
    train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'))

_INSTALL = ('install Debian\'s package (apt-get install dataset-fashion-mnist'
            f', files under {FASHION_MNIST_ROOT}) or pass data_root= a folder '
            'with the four idx files (gzipped or not)')


def read_idx(path: str) -> np.ndarray:
    """Read an idx file (the MNIST format), gzipped (``.gz``) or not.

    Args:
        path (str): The file; when it is missing, ``path + '.gz'`` is
            tried.

    Returns:
        np.ndarray: uint8 array of the shape the header gives.

    Raises:
        FileNotFoundError: Neither file exists (the message says how to get
            them).
        ValueError: The header or the size is wrong (names the file).
    """
    for candidate in (path, path + '.gz'):
        if osp.isfile(candidate):
            break
    else:
        raise FileNotFoundError(
            f'FashionMNISTMultiModal: {path}(.gz) not found; {_INSTALL}.')
    opener = gzip.open if candidate.endswith('.gz') else open
    try:
        with opener(candidate, 'rb') as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f'FashionMNISTMultiModal: cannot read {candidate} '
                         f'({err}); reinstall the files.') from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f'FashionMNISTMultiModal: {candidate} is not an '
                         'idx file of unsigned bytes (bad magic number).')
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(
            f'FashionMNISTMultiModal: {candidate} holds {len(data) - offset} '
            f'bytes of data, its header says {shape}; the file is truncated.')
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


@DATASETS.register_module()
class FashionMNISTMultiModal(BaseDataset):
    """Fashion-MNIST (Xiao et al., 2017): 70,000 real 28 x 28 grey images of
    10 clothing classes, read from the idx files (gzipped as Debian's
    ``dataset-fashion-mnist`` installs them, or un-gzipped as mmpretrain's
    ``FashionMNIST`` reads them).

    Each sample is ``img={modalities[0]: HxWx3 uint8}`` (the grey image
    repeated on three channels, so that every RGB transform and backbone
    applies) with ``gt_label`` and ``modalities``; the further modalities
    are made in the pipeline from the first (``GradientMagnitude``), as
    ``SimulatedNBI`` makes Kvasir's NBI view. No files are decoded per
    sample: the arrays are read once.

    Args:
        data_root (str): Folder of the idx files. Defaults to
            :data:`FASHION_MNIST_ROOT`.
        split (str): ``'train'`` (60,000) or ``'test'`` (10,000).
            Defaults to 'train'.
        modalities (Sequence[str]): Names of the modalities a sample has
            after the pipeline; the first is the image. Defaults to
            ('image', 'gradient').
        fraction (float, optional): Keep a class-balanced subset of this
            fraction of the split (``round(fraction * n_c)`` of each class
            ``c``, at least one), drawn with ``subset_seed``: the labelled
            subset of a label-efficiency run. None keeps every image.
        subset_seed (int): Seed of the subset draw. Defaults to 0.
        num_samples (int, optional): Keep the first ``num_samples`` of the
            (subset) list, for tests. Defaults to None.
        pipeline (Sequence): Transforms. Defaults to ().
        test_mode (bool): Passed to ``BaseDataset``. Defaults to False.
    """

    METAINFO = dict(classes=FASHION_MNIST_CLASSES)

    def __init__(self,
                 data_root: str = FASHION_MNIST_ROOT,
                 split: str = 'train',
                 modalities: Sequence[str] = ('image', 'gradient'),
                 fraction: Optional[float] = None,
                 subset_seed: int = 0,
                 num_samples: Optional[int] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if split not in _FILES:
            raise ValueError(f"FashionMNISTMultiModal: split must be 'train' "
                             f"or 'test', got {split!r}.")
        if fraction is not None and not 0 < fraction <= 1:
            raise ValueError('FashionMNISTMultiModal: fraction must be in '
                             f'(0, 1], got {fraction}.')
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'FashionMNISTMultiModal: data_root {data_root} does not '
                f'exist; {_INSTALL}.')
        self.split = split
        self.modalities = tuple(modalities)
        self.fraction, self.subset_seed = fraction, subset_seed
        self.num_samples = num_samples
        images, labels = (read_idx(osp.join(data_root, name))
                          for name in _FILES[split])
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(
                f'FashionMNISTMultiModal: {data_root}: {split} images of '
                f'shape {images.shape} and labels of shape {labels.shape} '
                'do not match.')
        self.images, self.labels = images, labels
        super().__init__(
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            serialize_data=False,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Indices and labels of the (subset) split; images are attached in
        :meth:`get_data_info`."""
        index = np.arange(len(self.labels))
        if self.fraction is not None:
            rng = np.random.default_rng(self.subset_seed)
            keep = []
            for c in range(len(FASHION_MNIST_CLASSES)):
                members = index[self.labels == c]
                n = max(1, int(round(self.fraction * len(members))))
                keep.append(rng.choice(members, n, replace=False))
            index = np.sort(np.concatenate(keep))
        if self.num_samples is not None:
            index = index[:self.num_samples]
        if len(index) == 0:
            raise ValueError(f'FashionMNISTMultiModal: the {self.split} '
                             'split is empty after the subset settings.')
        return [
            dict(index=int(i), gt_label=int(self.labels[i])) for i in index
        ]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        grey = self.images[info['index']]
        info['img'] = {self.modalities[0]: np.repeat(grey[..., None], 3, 2)}
        info['img_shape'] = info['ori_shape'] = grey.shape
        info['modalities'] = self.modalities
        info['img_path'] = f'fashion-mnist/{self.split}/{info["index"]}'
        return info

    def get_gt_labels(self) -> np.ndarray:
        """Labels of every sample, in order."""
        return np.array([d['gt_label'] for d in self.data_list])
