"""mmsegmentation parts: MRI slice packing, the template-filling data
preprocessor, the UNet decode head and the per-case Dice metric."""
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

import mics_mm.seg  # noqa: F401  (registers into mmseg's registries)
from mics_mm import registry as ours
from mmseg.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

#: Our MRI datasets and transforms live in mics_mm's registries; the mmseg
#: configs build the datasets there (``_scope_='mics_mm'``).
SHARED_DATASETS = ('BrainMRIDataset', 'BrainMRISliceDataset')
SHARED_TRANSFORMS = ('LoadMRIStudy', 'PercentileNormalize', 'ForegroundCrop',
                     'SampleModalities', 'ArrangeModalities', 'RandomSlice2D',
                     'TakeSlice2D', 'CropPad', 'RandomPatch3D',
                     'CachedCompose', 'PackMRISegInputs')


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def test_registered_in_mmseg():
    # no hand-written re-registration: registered once, in mics_mm's scope,
    # and built there from an mmseg config
    for name in SHARED_TRANSFORMS:
        assert TRANSFORMS.get(name) is None, name
        assert ours.TRANSFORMS.get(name) is not None, name
    for name in SHARED_DATASETS:
        assert DATASETS.get(name) is None, name
        assert ours.DATASETS.get(name) is not None, name
    with ours.DATASETS.switch_scope_and_registry('mics_mm') as registry:
        assert registry is ours.DATASETS
    for name in ('MRISegDataPreprocessor', 'UNetDecodeHead'):
        assert MODELS.get(name) is not None, name
    assert METRICS.get('VolumeDiceMetric') is not None
    # our ResNet comes from mmpretrain, by scope prefix
    assert MODELS.get('mmpretrain.ResNet') is not None


def test_pack_mri_seg_inputs():
    pack = TRANSFORMS.build(dict(type='PackMRISegInputs', _scope_='mics_mm'))
    out = pack(
        dict(img=np.random.rand(4, 8, 10).astype(np.float32),
             gt_seg=np.ones((8, 10), np.int64), case='c1', slice_index=3,
             canvas_axis=2, canvas_offset=(0, -1, 0),
             modalities=('flair', 't1', 't2', 'pd'),
             missing_modalities=('flair', )))
    sample = out['data_samples']
    assert out['inputs'].shape == (4, 8, 10)
    assert sample.gt_sem_seg.data.shape == (1, 8, 10)
    assert sample.img_shape == sample.ori_shape == (8, 10)
    assert sample.case == 'c1' and sample.missing_modalities == ('flair', )
    with pytest.raises(ValueError, match='slice the volume first'):
        pack(dict(img=np.zeros((1, 2, 2, 2), np.float32)))


def test_seg_data_preprocessor_fills_then_pads(tmp_path):
    templates = torch.rand(8, 6, 8, 5)
    ckpt = tmp_path / 'brainmvp.pth'
    torch.save(dict(state_dict={'templates.templates': templates}), ckpt)
    pre = MODELS.build(
        dict(type='MRISegDataPreprocessor', templates=str(ckpt),
             size_divisor=8, seg_pad_val=255))
    x = torch.zeros(2, 6, 7)
    x[1] = 0.5  # t1 present everywhere
    sample = SegDataSample(
        metainfo=dict(modalities=('flair', 't1'),
                      missing_modalities=('flair', ), canvas_axis=2,
                      slice_index=2, canvas_offset=(0, 0, 0),
                      canvas_shape=(6, 8, 5), img_shape=(6, 7),
                      ori_shape=(6, 7)))
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 6, 7, dtype=torch.long))
    out = pre(dict(inputs=[x], data_samples=[sample]), training=True)
    assert out['inputs'].shape == (1, 2, 8, 8)  # padded to /8
    t = templates[0]
    ref = ((t - t.min()) / (t.max() - t.min()))[:, :7, 2]
    torch.testing.assert_close(out['inputs'][0, 0, :6, :7], ref)
    assert out['data_samples'][0].gt_sem_seg.data[0, 6:].eq(255).all()


def test_unet_head_shapes_and_loss():
    head = MODELS.build(
        dict(type='UNetDecodeHead', in_channels=[8, 16, 32], in_index=[0, 1, 2],
             channels=8, num_classes=3, norm_cfg=dict(type='BN'),
             loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)))
    feats = [torch.randn(2, 8, 16, 15), torch.randn(2, 16, 8, 8),
             torch.randn(2, 32, 4, 4)]  # odd sizes are resized, not cut
    logits = head(feats)
    assert logits.shape == (2, 3, 16, 15)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 64, 60)))
        samples.append(s)
    losses = head.loss(feats, samples, train_cfg={})
    assert losses['loss_ce'] > 0
    losses['loss_ce'].backward()
    assert head.ups[0][0].conv.weight.grad is not None
    with pytest.raises(ValueError, match='>= 2 features'):
        MODELS.build(dict(type='UNetDecodeHead', in_channels=[8], in_index=[0],
                          channels=8, num_classes=2))


def _dice(pred, label, c):
    p, g = pred == c, label == c
    if p.sum() + g.sum() == 0:
        return np.nan
    return 2 * (p & g).sum() / (p.sum() + g.sum())


def test_volume_dice_equals_a_per_case_3d_reference():
    rng = np.random.default_rng(0)
    classes = ('background', 'a', 'b')
    metric = METRICS.build(dict(type='VolumeDiceMetric'))
    metric.dataset_meta = dict(classes=classes)
    volumes = {}
    for case in ('c1', 'c2'):
        label = rng.integers(0, 3, (4, 5, 6))
        pred = np.where(rng.random(label.shape) < 0.7, label,
                        rng.integers(0, 3, label.shape))
        if case == 'c2':
            label[label == 2] = 1  # class b absent in c2's label ...
            pred[pred == 2] = 0  # ... and prediction: left out for c2
        label[0, 0, :] = 255  # ignored pixels
        volumes[case] = (pred, label)
        batch = []
        for z in range(6):  # slice by slice, as the slice dataset does
            batch.append(
                dict(case=case,
                     pred_sem_seg=dict(data=torch.from_numpy(pred[..., z])[None]),
                     gt_sem_seg=dict(data=torch.from_numpy(label[..., z])[None])))
        metric.process({}, batch)
    result = metric.evaluate(12)
    per_case = {c: [] for c in range(3)}
    for pred, label in volumes.values():
        keep = label != 255
        for c in range(3):
            per_case[c].append(_dice(pred[keep], label[keep], c))
    expect = {c: np.nanmean(v) for c, v in per_case.items()}
    assert result['Dice.a'] == pytest.approx(expect[1])
    assert result['Dice.b'] == pytest.approx(expect[2])  # c1 only
    assert np.isnan(per_case[2][1])
    assert result['mDice'] == pytest.approx((expect[1] + expect[2]) / 2)
    assert result['num_cases'] == 2
    pooled_pred = np.concatenate([p[l != 255] for p, l in volumes.values()])
    pooled_label = np.concatenate([l[l != 255] for _, l in volumes.values()])
    assert result['mDice_pooled'] == pytest.approx(
        (_dice(pooled_pred, pooled_label, 1) +
         _dice(pooled_pred, pooled_label, 2)) / 2)
    bare = METRICS.build(dict(type='VolumeDiceMetric'))
    bare.dataset_meta = {}
    with pytest.raises(ValueError, match="no 'classes'"):
        bare.process({}, batch)
