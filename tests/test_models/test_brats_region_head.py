"""BraTSRegionHead's loss against Dice / BCE worked out by hand, and its
label maps."""
import math

import pytest
import torch

from mics_mm.registry import MODELS


def _head(**kwargs):
    cfg = dict(type='BraTSRegionHead', in_channels=(4, 4, 4))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _release_loss(logits, target):
    """The release's EDiceLoss(is_train=True), written out."""
    total = 0.
    for r in range(target.shape[1]):
        p, t = torch.sigmoid(logits[:, r]), target[:, r]
        dice = (2 * (p * t).sum() + 1) / ((p * p).sum() + (t * t).sum() + 1)
        bce = torch.nn.functional.binary_cross_entropy(p, t)
        total = total + 0.7 * (1 - dice) + 0.3 * bce
    return total / target.shape[1]


def test_loss_by_hand_on_two_voxels():
    """Regions of BraTS 2021 on a 1 x 1 x 2 volume: voxel 0 is ET (label
    4: in WT, TC and ET), voxel 1 oedema (label 2: WT only). Every logit is
    0, so p = 1/2 everywhere:

    - WT: t = (1, 1): Dice = (2 * 1 + 1) / (0.5 + 2 + 1) = 3 / 3.5
    - TC, ET: t = (1, 0): Dice = (1 + 1) / (0.5 + 1 + 1) = 2 / 2.5
    - BCE = log 2 for every voxel and region.
    """
    head = _head(level_weights=(1., ))
    labels = torch.tensor([[[[4, 2]]]])
    logits = [torch.zeros(1, 3, 1, 1, 2)]
    dice_loss = ((1 - 3 / 3.5) + 2 * (1 - 2 / 2.5)) / 3
    want = 0.7 * dice_loss + 0.3 * math.log(2)
    got = head.loss(logits, labels)['loss_seg']
    assert got.item() == pytest.approx(want, rel=1e-6)
    # target channels in the order WT, TC, ET
    assert head.targets(labels)[0, :, 0, 0].tolist() == [[1., 1.],
                                                          [1., 0.],
                                                          [1., 0.]]


def test_loss_equals_the_release_formula_and_sums_levels():
    torch.manual_seed(0)
    head = _head()
    labels = torch.randint(0, 5, (2, 4, 4, 4)).clamp(max=4)
    labels[labels == 3] = 0
    logits = [torch.randn(2, 3, 4, 4, 4) for _ in range(3)]
    target = head.targets(labels)
    want = sum(_release_loss(x, target) for x in logits)
    assert head.loss(logits, labels)['loss_seg'].item() == pytest.approx(
        want.item(), rel=1e-5)
    weighted = _head(level_weights=(0.25, 0.5, 1.0))
    weighted.load_state_dict(head.state_dict())
    want = sum(w * _release_loss(x, target)
               for w, x in zip((0.25, 0.5, 1.0), logits))
    assert weighted.loss(logits, labels)['loss_seg'].item() == \
        pytest.approx(want.item(), rel=1e-5)


def test_class_wise_loss_by_hand():
    """Softmax over 2 classes, zero logits (p = 1/2): one voxel of each
    class. Per class Dice = (2 * 0.5 + 1) / (0.5 + 1 + 1) = 2 / 2.5, CE =
    log 2."""
    head = _head(regions=None, num_classes=2, level_weights=(1., ))
    labels = torch.tensor([[[[0, 1]]]])
    got = head.loss([torch.zeros(1, 2, 1, 1, 2)], labels)['loss_seg']
    want = 0.7 * (1 - 2 / 2.5) + 0.3 * math.log(2)
    assert got.item() == pytest.approx(want, rel=1e-6)
    pred = head.predict(torch.tensor([[[[[0., 3.]]], [[[1., 0.]]]]]))
    assert pred.tolist() == [[[[1, 0]]]]


@pytest.mark.parametrize('edition,labels', [('2021', (2, 1, 4)),
                                            ('2023', (2, 1, 3))])
def test_region_masks_become_a_brats_label_map(edition, labels):
    head = _head(regions=edition)
    oedema, necrosis, enhancing = labels
    # voxels: nothing, WT only, WT + TC, WT + TC + ET, ET only
    on, off = 10., -10.
    wt = [off, on, on, on, off]
    tc = [off, off, on, on, off]
    et = [off, off, off, on, on]
    logits = torch.tensor([wt, tc, et]).view(1, 3, 1, 1, 5)
    pred = head.predict(logits)[0, 0, 0].tolist()
    assert pred == [0, oedema, necrosis, enhancing, enhancing]
    # and the map gives the regions back (ET implies TC and WT)
    back = head.targets(head.predict(logits))[0, :, 0, 0]
    assert back.tolist() == [[0, 1, 1, 1, 1], [0, 0, 1, 1, 1],
                             [0, 0, 0, 1, 1]]


def test_bad_settings_raise():
    with pytest.raises(ValueError, match='edition'):
        _head(regions='2019')
    with pytest.raises(ValueError, match='num_classes'):
        _head(regions=None)
    with pytest.raises(ValueError, match='level_weights'):
        _head(level_weights=(1., ) * 4)
    with pytest.raises(ValueError, match='exactly one label'):
        _head(regions=dict(A=(1, 2), B=(3, 4)))
    assert _head(regions=2023).regions['ET'] == (3, )  # --cfg-options int
