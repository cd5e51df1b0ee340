"""BraTSMetric against values worked out by hand: regions (BraTS 2021 and
2023) and class-wise, means and medians over cases, the empty-case rules,
through mmengine's Evaluator."""
import csv

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mics_mm.evaluation import BraTSMetric
from mics_mm.evaluation.brats_scoring import EMPTY_HD95
from mics_mm.registry import METRICS


def _case(edition):
    """The 7^3 case of test_brats_scoring.py: by hand, Dice ET 0, TC 1/2,
    WT 2/3; HD95 ET 3, TC 2.85, WT 2.7."""
    et = 4 if edition == '2021' else 3
    truth = np.zeros((7, 7, 7), np.int64)
    pred = np.zeros_like(truth)
    truth[2, 2, 2], truth[2, 3, 2], truth[5, 5, 5] = et, 1, 2
    pred[2, 2, 5], pred[2, 3, 2], pred[5, 5, 5] = et, 1, 2
    return pred, truth


def _sample(pred, truth, case, **meta):
    s = DataSample()
    s.set_metainfo(dict(case=case, **meta))
    s.set_field(torch.from_numpy(pred), 'pred_seg', dtype=torch.Tensor)
    s.set_field(torch.from_numpy(truth), 'gt_seg', dtype=torch.Tensor)
    return s


@pytest.mark.parametrize('edition', ['2021', '2023'])
def test_region_means_and_medians_by_hand(edition, tmp_path):
    pred, truth = _case(edition)
    out_file = tmp_path / 'cases.csv'
    evaluator = Evaluator(
        dict(type='BraTSMetric', regions=edition, out_file=str(out_file)))
    # case a: the hand-worked case; case b: perfect (Dice 1, HD95 0);
    # case c: the same as a
    samples = [_sample(pred, truth, 'a'), _sample(truth, truth, 'b'),
               _sample(pred, truth, 'c')]
    evaluator.process(samples)
    m = evaluator.evaluate(3)
    assert m['num_cases'] == 3
    assert m['Dice.ET'] == pytest.approx(1 / 3)  # (0 + 1 + 0) / 3
    assert m['Dice.ET.median'] == pytest.approx(0.0)
    assert m['Dice.TC'] == pytest.approx(2 / 3)  # (1/2 + 1 + 1/2) / 3
    assert m['Dice.TC.median'] == pytest.approx(0.5)
    assert m['Dice.WT'] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert m['HD95.ET'] == pytest.approx(2.0)  # (3 + 0 + 3) / 3
    assert m['HD95.ET.median'] == pytest.approx(3.0)
    assert m['HD95.TC'] == pytest.approx(2 * 2.85 / 3)
    assert m['HD95.WT.median'] == pytest.approx(2.7)
    assert m['mDice'] == pytest.approx(
        (m['Dice.WT'] + m['Dice.TC'] + m['Dice.ET']) / 3)
    assert m['mHD95'] == pytest.approx((2.0 + 1.9 + 1.8) / 3)
    rows = list(csv.DictReader(open(out_file)))
    assert [r['case'] for r in rows] == ['a', 'b', 'c']
    assert float(rows[0]['HD95.TC']) == pytest.approx(2.85)


def test_empty_regions_and_spacing():
    truth = np.zeros((5, 5, 5), np.int64)
    truth[1, 1, 1] = 2  # oedema only: TC and ET empty in the truth
    pred = truth.copy()
    pred[3, 3, 3] = 4  # a false-positive ET: TC and ET empty-vs-not
    metric = BraTSMetric(regions='2021')
    metric.process(None, [_sample(pred, truth, 'x').to_dict()])
    m = metric.compute_metrics(metric.results)
    assert (m['Dice.ET'], m['HD95.ET']) == (0.0, pytest.approx(EMPTY_HD95))
    assert (m['Dice.TC'], m['HD95.TC']) == (0.0, pytest.approx(EMPTY_HD95))
    # WT: {(1,1,1)} vs {(1,1,1), (3,3,3)}: Dice 2/3; distances pred->truth
    # [0, 2*sqrt(3)] -> 95th percentile 0.95 * 2 sqrt(3); truth->pred [0]
    assert m['Dice.WT'] == pytest.approx(2 / 3)
    assert m['HD95.WT'] == pytest.approx(0.95 * 2 * np.sqrt(3))
    # a sample's own voxel size wins over the metric's default
    metric = BraTSMetric(regions='2021', spacing=(1., 1., 1.))
    metric.process(None, [_sample(pred, truth, 'x',
                                  spacing=(2., 2., 2.)).to_dict()])
    m2 = metric.compute_metrics(metric.results)
    assert m2['HD95.WT'] == pytest.approx(2 * m['HD95.WT'])


def test_class_wise_by_hand():
    """Classes 0..3, background not scored. Truth: class 1 at two voxels,
    class 2 at one, class 3 nowhere. Prediction: class 1 at one of the
    two, class 2 at a voxel 2 away, class 3 nowhere."""
    truth = np.zeros((6, 6, 6), np.int64)
    pred = np.zeros_like(truth)
    truth[1, 1, 1] = truth[1, 1, 2] = 1
    truth[4, 4, 1] = 2
    pred[1, 1, 1] = 1
    pred[4, 4, 3] = 2
    metric = BraTSMetric(regions=None)
    metric.dataset_meta = dict(classes=('bg', 'csf', 'gm', 'wm'))
    metric.process(None, [_sample(pred, truth, 'x').to_dict(),
                          _sample(truth, truth, 'y').to_dict()])
    m = metric.compute_metrics(metric.results)
    assert 'Dice.bg' not in m
    # csf: 2*1/(1+2) = 2/3 and 1; HD95: truth->pred [0, 1] -> 0.95,
    # pred->truth [0] -> 0; then 0 for the perfect case
    assert m['Dice.csf'] == pytest.approx((2 / 3 + 1) / 2)
    assert m['HD95.csf'] == pytest.approx(0.95 / 2)
    # gm: no overlap, one distance of 2 voxels
    assert m['Dice.gm'] == pytest.approx(0.5)
    assert m['HD95.gm'] == pytest.approx(1.0)
    # wm: empty in both: Dice 1, HD95 0
    assert (m['Dice.wm'], m['HD95.wm']) == (1.0, 0.0)
    assert m['mDice'] == pytest.approx(((2 / 3 + 1) / 2 + 0.5 + 1) / 3)
    # names from the config win; no names at all is an error
    named = BraTSMetric(regions=None, classes=('b', 'c', 'g', 'w'),
                        ignore_classes=())
    assert set(named.score(pred, truth, (1, 1, 1))) == {
        f'{k}.{n}' for k in ('Dice', 'HD95') for n in 'bcgw'}
    with pytest.raises(ValueError, match='class names'):
        BraTSMetric(regions=None).score(pred, truth, (1, 1, 1))


def test_registered_and_checked():
    assert METRICS.get('BraTSMetric') is BraTSMetric
    assert BraTSMetric(regions=2023).regions['ET'] == (3, )
    with pytest.raises(ValueError, match='edition'):
        BraTSMetric(regions='2019')
    metric = BraTSMetric()
    with pytest.raises(KeyError, match='pred_seg'):
        metric.process(None, [dict(gt_seg=torch.zeros(2, 2, 2))])
