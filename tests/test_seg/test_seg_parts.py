"""mmsegmentation parts: MRI slice packing, the template-filling data
preprocessor, the UNet decode head and the per-case Dice / HD95 metric."""
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData

import mics_mm.seg  # noqa: F401  (registers into mmseg's registries)
from mics_mm import registry as ours
from mmseg.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmseg.structures import SegDataSample

from mics_mm.evaluation.brats_scoring import EMPTY_HD95

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
    """Dice of class ``c`` by the BraTS rule (both empty: 1)."""
    p, g = pred == c, label == c
    if p.sum() + g.sum() == 0:
        return 1.0
    return 2 * (p & g).sum() / (p.sum() + g.sum())


def _slice_sample(case, pred, label, **meta):
    return dict(case=case,
                pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.as_tensor(label)[None]),
                **meta)


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
            pred[pred == 2] = 0  # ... and prediction: Dice 1 (BraTS)
        label[0, 0, :] = 255  # ignored pixels
        volumes[case] = (pred, label)
        # slice by slice, as the slice dataset does (here in reverse)
        batch = [
            _slice_sample(case, pred[..., z], label[..., z], slice_index=z,
                          canvas_axis=2) for z in reversed(range(6))
        ]
        metric.process({}, batch)
    result = metric.evaluate(12)
    per_case = {c: [] for c in range(3)}
    for pred, label in volumes.values():
        keep = label != 255
        for c in range(3):
            per_case[c].append(_dice(pred[keep], label[keep], c))
    expect = {c: np.mean(v) for c, v in per_case.items()}
    assert per_case[2][1] == 1.0  # c2 counts for class b, with Dice 1
    assert result['Dice.a'] == pytest.approx(expect[1])
    assert result['Dice.b'] == pytest.approx(expect[2])
    assert result['mDice'] == pytest.approx((expect[1] + expect[2]) / 2)
    # the background is reported, but left out of the means
    assert result['Dice.background'] == pytest.approx(expect[0])
    assert result['HD95.background'] >= 0.0
    assert result['num_cases'] == 2
    for name in ('a', 'b'):
        assert result[f'HD95.{name}'] >= 0.0
        assert f'HD95.{name}.median' in result
    assert result['HD95.b.median'] == pytest.approx(result['HD95.b'])
    pooled_pred = np.concatenate([p[l != 255] for p, l in volumes.values()])
    pooled_label = np.concatenate([l[l != 255] for _, l in volumes.values()])
    assert result['mDice_pooled'] == pytest.approx(
        (_dice(pooled_pred, pooled_label, 1) +
         _dice(pooled_pred, pooled_label, 2)) / 2)
    bare = METRICS.build(dict(type='VolumeDiceMetric'))
    bare.dataset_meta = {}
    with pytest.raises(ValueError, match="no 'classes'"):
        bare.process({}, batch)


def test_volume_dice_and_hd95_by_hand():
    """Two cases of two 3 x 4 slices (axis 2), classes a, b, c.

    c1 (slices 4 and 5, spacing (1, 1, 3) mm: 3 mm between slices):
      a: truth = prediction = {s4 (0,0), s4 (0,1), s5 (0,0)}: Dice 1,
         HD95 0;
      b: truth {s4 (2,3)}, prediction {s5 (2,3)}: Dice 0, one distance of
         one slice = 3 mm: HD95 3;
      c: truth {s4 (1,2)}, predicted nowhere: Dice 0, HD95 EMPTY_HD95.
    c2 (slices 0 and 1, no spacing: 1 mm):
      a: truth {s0 (1,1)}, prediction {s0 (1,1), s1 (1,1)} (and at the
         ignored pixel s1 (0,0), which does not count): Dice 2/3;
         distances prediction -> truth [0, 1] -> 95th percentile 0.95,
         truth -> prediction [0] -> 0: HD95 0.95;
      b, c: empty in truth and prediction: Dice 1, HD95 0 (BraTS's rule;
         the old metric dropped such cases).
    """
    classes = ('background', 'a', 'b', 'c')
    c1 = {4: (np.zeros((3, 4), int), np.zeros((3, 4), int)),
          5: (np.zeros((3, 4), int), np.zeros((3, 4), int))}
    (p4, g4), (p5, g5) = c1[4], c1[5]
    g4[0, 0] = g4[0, 1] = p4[0, 0] = p4[0, 1] = 1
    g5[0, 0] = p5[0, 0] = 1
    g4[2, 3] = 2
    p5[2, 3] = 2
    g4[1, 2] = 3
    c2 = {0: (np.zeros((3, 4), int), np.zeros((3, 4), int)),
          1: (np.zeros((3, 4), int), np.zeros((3, 4), int))}
    (q0, h0), (q1, h1) = c2[0], c2[1]
    h0[1, 1] = q0[1, 1] = q1[1, 1] = 1
    h1[0, 0], q1[0, 0] = 255, 1  # ignored
    metric = METRICS.build(dict(type='VolumeDiceMetric'))
    metric.dataset_meta = dict(classes=classes)
    # slices of the two cases interleaved, as ranks / batches mix them
    metric.process({}, [
        _slice_sample('c1', *c1[5], slice_index=5, canvas_axis=2,
                      spacing=(1., 1., 3.)),
        _slice_sample('c2', *c2[1], slice_index=1, canvas_axis=2),
    ])
    metric.process({}, [
        _slice_sample('c2', *c2[0], slice_index=0, canvas_axis=2),
        _slice_sample('c1', *c1[4], slice_index=4, canvas_axis=2,
                      spacing=(1., 1., 3.)),
    ])
    r = metric.evaluate(4)
    assert r['num_cases'] == 2
    assert r['Dice.a'] == pytest.approx((1 + 2 / 3) / 2)
    assert r['HD95.a'] == pytest.approx((0 + 0.95) / 2)
    assert r['Dice.b'] == pytest.approx((0 + 1) / 2)
    assert r['HD95.b'] == pytest.approx((3 + 0) / 2)
    assert r['Dice.c'] == pytest.approx((0 + 1) / 2)
    assert r['HD95.c'] == pytest.approx((EMPTY_HD95 + 0) / 2)
    # background, reported but not in the means: c1 truth 24 - 5 = 19,
    # prediction 24 - 4 = 20, shared 24 - 6 = 18: 36 / 39; c2 (23 valid
    # voxels) truth 22, prediction 21, shared 21: 42 / 43
    assert r['Dice.background'] == pytest.approx((36 / 39 + 42 / 43) / 2)
    assert r['mDice'] == pytest.approx((5 / 6 + 0.5 + 0.5) / 3)
    assert r['mHD95'] == pytest.approx((0.475 + 1.5 + EMPTY_HD95 / 2) / 3)
    # pooled: a: 2 * 4 / (6 + 3); b: 0 / 2; c: 0 / 1
    assert r['mDice_pooled'] == pytest.approx((8 / 9) / 3)
    assert r['Dice.b.median'] == pytest.approx(0.5)
    # a metric voxel size overrides the samples'; HD95 scales with it
    scaled = METRICS.build(dict(type='VolumeDiceMetric',
                                spacing=(2., 2., 2.)))
    scaled.dataset_meta = dict(classes=classes)
    scaled.process({}, [
        _slice_sample('c1', *c1[z], slice_index=z, canvas_axis=2,
                      spacing=(1., 1., 3.)) for z in (4, 5)
    ])
    r = scaled.evaluate(2)
    assert r['HD95.b'] == pytest.approx(2.0)
    assert r['Dice.c'] == 0.0 and r['HD95.c'] == pytest.approx(EMPTY_HD95)


def test_volume_metric_voxel_size_from_the_label_header(tmp_path):
    import nibabel as nib
    from mics_mm.seg.metrics import header_spacing
    # axes stored as (y, x, z) with 3, 2, 4 mm voxels: RAS order (2, 3, 4)
    affine = np.array([[0., 2., 0., 0.], [3., 0., 0., 0.], [0., 0., 4., 0.],
                       [0., 0., 0., 1.]])
    path = str(tmp_path / 'seg.nii.gz')
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), affine), path)
    assert header_spacing(path) == pytest.approx((2., 3., 4.))
    assert header_spacing(path, reorient_ras=False) == pytest.approx(
        (3., 2., 4.))
    # slices along axis 0 (2 mm apart): the two b voxels, one slice apart
    metric = METRICS.build(dict(type='VolumeDiceMetric'))
    metric.dataset_meta = dict(classes=('background', 'b'))
    a, b = np.zeros((3, 3), int), np.zeros((3, 3), int)
    a[1, 1] = 1
    metric.process({}, [
        _slice_sample('c', a, b, slice_index=0, canvas_axis=0,
                      seg_path=path),
        _slice_sample('c', b, a, slice_index=1, canvas_axis=0,
                      seg_path=path),
    ])
    assert metric.evaluate(2)['HD95.b'] == pytest.approx(2.0)
