"""A SYNTHETIC stand-in for Fashion-MNIST's idx files, for tests: random
28 x 28 images whose class sets a bright square's position, written in the
idx format (gzipped as Debian's package installs them, or not)."""
import gzip
import os
import os.path as osp

import numpy as np

__all__ = ['write_idx', 'make_synthetic_fashion_mnist']


def write_idx(path: str, array: np.ndarray, gz: bool = True) -> str:
    """Write a uint8 array as an idx file (``path + '.gz'`` when ``gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b''.join(
        int(n).to_bytes(4, 'big') for n in array.shape)
    data = header + array.tobytes()
    if gz:
        path += '.gz'
        with gzip.open(path, 'wb') as f:
            f.write(data)
    else:
        with open(path, 'wb') as f:
            f.write(data)
    return path


def make_synthetic_fashion_mnist(root: str, num_train: int = 200,
                                 num_test: int = 100, gz: bool = True,
                                 seed: int = 0) -> str:
    """Write the four SYNTHETIC idx files under ``root``.

    Each image is low noise plus a bright 8 x 8 square whose position is
    set by the class (10 positions on a ring), so that a learnt feature
    can tell the classes apart. Labels cycle through the 10 classes.

    Returns:
        str: ``root``.
    """
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n, prefix in (('train', num_train, 'train'),
                             ('test', num_test, 't10k')):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            angle = 2 * np.pi * c / 10
            y = int(10 + 8 * np.sin(angle))
            x = int(10 + 8 * np.cos(angle))
            images[i, y:y + 8, x:x + 8] = 220
        write_idx(osp.join(root, f'{prefix}-images-idx3-ubyte'), images, gz)
        write_idx(osp.join(root, f'{prefix}-labels-idx1-ubyte'), labels, gz)
    return root
