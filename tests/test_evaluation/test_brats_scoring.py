"""BraTS region scoring against values worked out by hand."""
import numpy as np
import pytest

from mics_mm.evaluation.brats_scoring import (BRATS_REGIONS, EMPTY_HD95,
                                              score_case, score_classes)


def _case(edition: str):
    """A 7^3 case with three tumour voxels (labels of ``edition``):

    truth: ET at (2,2,2), necrosis at (2,3,2), oedema at (5,5,5);
    prediction: ET at (2,2,5) (3 voxels away), necrosis at (2,3,2),
    oedema at (5,5,5).
    """
    et = 4 if edition == '2021' else 3
    truth = np.zeros((7, 7, 7), np.int64)
    pred = np.zeros_like(truth)
    truth[2, 2, 2], truth[2, 3, 2], truth[5, 5, 5] = et, 1, 2
    pred[2, 2, 5], pred[2, 3, 2], pred[5, 5, 5] = et, 1, 2
    return pred, truth


@pytest.mark.parametrize('edition', ['2021', '2023'])
def test_dice_and_hd95_by_hand(edition):
    pred, truth = _case(edition)
    s = score_case(pred, truth, BRATS_REGIONS[edition])
    # ET: {(2,2,2)} vs {(2,2,5)}: no overlap; one distance, 3 voxels.
    assert s['Dice.ET'] == 0.0
    assert s['HD95.ET'] == pytest.approx(3.0)
    # TC = {ET, necrosis}: truth {(2,2,2),(2,3,2)}, pred {(2,2,5),(2,3,2)}.
    # Dice 2*1/(2+2). Distances truth->pred: (2,2,2)->(2,3,2) = 1,
    # (2,3,2) -> 0; pred->truth: (2,2,5)->(2,2,2) = 3, (2,3,2) -> 0.
    # 95th percentiles (linear): [0,1] -> 0.95, [0,3] -> 2.85; max 2.85.
    assert s['Dice.TC'] == pytest.approx(0.5)
    assert s['HD95.TC'] == pytest.approx(2.85)
    # WT adds the shared oedema voxel: Dice 2*2/(3+3); distances
    # [1,0,0] -> 0.9 and [3,0,0] -> 2.7; max 2.7.
    assert s['Dice.WT'] == pytest.approx(2 / 3)
    assert s['HD95.WT'] == pytest.approx(2.7)


def test_spacing_scales_hd95():
    pred, truth = _case('2021')
    # the ET distance runs along the last axis: 3 voxels of 2 mm
    s = score_case(pred, truth, spacing=(1., 1., 2.))
    assert s['HD95.ET'] == pytest.approx(6.0)


def test_empty_regions_follow_brats():
    truth = np.zeros((5, 5, 5), np.int64)
    truth[1, 1, 1] = 2  # oedema only: TC and ET empty in the truth
    pred = truth.copy()
    s = score_case(pred, truth)
    # empty in both: Dice 1, HD95 0
    assert (s['Dice.ET'], s['HD95.ET']) == (1.0, 0.0)
    assert (s['Dice.TC'], s['HD95.TC']) == (1.0, 0.0)
    assert (s['Dice.WT'], s['HD95.WT']) == (1.0, 0.0)
    # a false positive where the truth is empty: Dice 0, HD95 the maximum
    pred[3, 3, 3] = 4
    s = score_case(pred, truth)
    assert s['Dice.ET'] == 0.0
    assert s['HD95.ET'] == pytest.approx(EMPTY_HD95)
    assert EMPTY_HD95 == pytest.approx(373.1287, abs=1e-3)
    # a miss where the prediction is empty: the same
    s = score_case(np.zeros_like(truth), truth)
    assert (s['Dice.WT'], s['HD95.WT']) == (0.0, pytest.approx(EMPTY_HD95))


def test_classes_by_hand_with_empty_classes_and_a_valid_mask():
    """Class-wise scoring (2D slice metric, 3D class-wise metric) by the
    same rules: a 1 x 3 x 5 case, classes a, b, c, d.

    a: truth {(0,1,0)}, prediction {(0,1,0), (0,1,2)}: Dice 2/3;
       distances prediction -> truth [0, 2] -> 95th percentile 1.9 (x 2 mm
       along the last axis = 3.8), truth -> prediction [0]: HD95 3.8;
    b: empty in both: Dice 1, HD95 0;
    c: predicted at (0,2,4) only: Dice 0, HD95 EMPTY_HD95;
    d: predicted at (0,0,0), where ``valid`` is False: empty in both.
    """
    truth = np.zeros((1, 3, 5), np.int64)
    pred = np.zeros_like(truth)
    truth[0, 1, 0] = 1
    pred[0, 1, 0] = pred[0, 1, 2] = 1
    pred[0, 2, 4] = 3
    pred[0, 0, 0] = 4
    valid = np.ones(truth.shape, bool)
    valid[0, 0, 0] = False
    s = score_classes(pred, truth, ('bg', 'a', 'b', 'c', 'd'),
                      spacing=(1., 1., 2.), valid=valid)
    assert set(s) == {f'{k}.{c}' for k in ('Dice', 'HD95') for c in 'abcd'}
    assert s['Dice.a'] == pytest.approx(2 / 3)
    assert s['HD95.a'] == pytest.approx(3.8)
    assert (s['Dice.b'], s['HD95.b']) == (1.0, 0.0)
    assert s['Dice.c'] == 0.0 and s['HD95.c'] == pytest.approx(EMPTY_HD95)
    assert (s['Dice.d'], s['HD95.d']) == (1.0, 0.0)
    # without the mask, d is a false positive; the background is scored
    # only when not ignored
    s = score_classes(pred, truth, ('bg', 'a', 'b', 'c', 'd'),
                      ignore_classes=())
    assert s['Dice.d'] == 0.0 and 'Dice.bg' in s
    with pytest.raises(ValueError, match='differ in shape'):
        score_classes(pred, truth[..., :4], ('bg', 'a'))
