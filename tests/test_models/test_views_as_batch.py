"""ViewsAsBatchDataPreprocessor: the views of each sample become
samples of their own, view by view, normalised as SelfSupDataPreprocessor
does; single-view input is left alone."""
import pytest
import torch
from mmpretrain.structures import DataSample

from mics_mm.models import ViewsAsBatchDataPreprocessor


def _batch(views, batch=3, size=(8, 8)):
    torch.manual_seed(0)
    inputs = [
        torch.randint(0, 255, (batch, 3) + size[v]).float()
        if isinstance(size, list) else
        torch.randint(0, 255, (batch, 3) + size).float()
        for v in range(views)
    ]
    samples = [DataSample(metainfo=dict(idx=i)) for i in range(batch)]
    return dict(inputs=inputs, data_samples=samples)


def test_views_become_samples_view_by_view():
    pre = ViewsAsBatchDataPreprocessor(
        mean=[10., 20., 30.], std=[2., 4., 5.], to_rgb=True)
    data = _batch(views=2)
    out = pre(data, training=True)
    x = out['inputs']
    assert x.shape == (6, 3, 8, 8)
    mean = torch.tensor([10., 20., 30.]).view(1, 3, 1, 1)
    std = torch.tensor([2., 4., 5.]).view(1, 3, 1, 1)
    for v in range(2):
        expected = (data['inputs'][v][:, [2, 1, 0]] - mean) / std
        torch.testing.assert_close(x[3 * v:3 * v + 3], expected)
    assert [s.idx for s in out['data_samples']] == [0, 1, 2, 0, 1, 2]


def test_single_view_is_unchanged():
    pre = ViewsAsBatchDataPreprocessor(mean=[0., 0., 0.],
                                           std=[1., 1., 1.])
    data = dict(inputs=torch.ones(2, 3, 4, 4), data_samples=None)
    out = pre(data)
    assert out['inputs'].shape == (2, 3, 4, 4)
    assert out['data_samples'] is None


def test_views_of_different_sizes_are_refused():
    pre = ViewsAsBatchDataPreprocessor()
    data = _batch(views=2, size=[(8, 8), (6, 6)])
    with pytest.raises(ValueError, match='one shape'):
        pre(data)
