"""The pure-PyTorch mmcv.ops stand-in that mics_mm.seg installs under
mmcv-lite (and only then)."""
import importlib.util
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import mics_mm.seg  # noqa: F401  (installs the stand-in under mmcv-lite)

MMCV_LITE = importlib.util.find_spec('mmcv._ext') is None
needs_lite = pytest.mark.skipif(
    not MMCV_LITE, reason='full mmcv installed: no fallback needed')


@needs_lite
def test_mmseg_models_import():
    import mmcv.ops
    import mmseg.models  # noqa: F401
    from mmseg.models.losses import FocalLoss
    assert getattr(mmcv.ops, '__mics_mmcv_ops_fallback__', False)
    assert sys.modules['mmcv.ops'] is mmcv.ops
    # mmseg's FocalLoss uses its pure-PyTorch path on CPU.
    # (mmseg's CPU path only handles one-hot targets for several classes)
    loss = FocalLoss(use_sigmoid=True)(
        torch.randn(4, 3), F.one_hot(torch.tensor([0, 1, 2, 1]), 3).float())
    assert torch.isfinite(loss)


@needs_lite
def test_point_sample_matches_grid_sample():
    from mmcv.ops import point_sample
    torch.manual_seed(0)
    feats = torch.randn(2, 3, 5, 7)
    # Pixel centres in [0, 1] coordinates read the pixels exactly.
    ys, xs = torch.tensor([0, 2, 4]), torch.tensor([0, 3, 6])
    centres = torch.stack([(xs + 0.5) / 7, (ys + 0.5) / 5], dim=-1)
    out = point_sample(feats, centres[None].expand(2, -1, -1))
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out, feats[:, :, ys, xs])
    # Half-way between two horizontal neighbours: their mean.
    mid = torch.tensor([[[3. / 7, 2.5 / 5]]]).expand(2, -1, -1)
    torch.testing.assert_close(
        point_sample(feats, mid)[..., 0],
        (feats[:, :, 2, 2] + feats[:, :, 2, 3]) / 2)

    points = torch.rand(2, 11, 2)
    ref = F.grid_sample(
        feats, (2 * points - 1)[:, :, None], align_corners=False)[..., 0]
    torch.testing.assert_close(point_sample(feats, points), ref)
    ref = F.grid_sample(
        feats, (2 * points - 1)[:, :, None], align_corners=True)[..., 0]
    torch.testing.assert_close(
        point_sample(feats, points, align_corners=True), ref)
    grid = torch.rand(2, 4, 6, 2)
    ref = F.grid_sample(feats, 2 * grid - 1, align_corners=False)
    torch.testing.assert_close(point_sample(feats, grid), ref)
    import mmseg.models.utils.point_sample  # noqa: F401
    assert sys.modules['mmseg.models.utils.point_sample'].point_sample is \
        point_sample


@needs_lite
def test_missing_op_placeholders():
    from mmcv.ops import (CrissCrossAttention, DeformConv2d,  # noqa: F401
                          PSAMask, sigmoid_focal_loss)

    from mics_mm.seg.mmcv_ops_fallback import MissingCompiledOpError
    with pytest.raises(MissingCompiledOpError,
                       match=r'mmcv.ops.sigmoid_focal_loss needs the compiled'
                       r' mmcv; install full mmcv==2.1.0'):
        sigmoid_focal_loss(torch.zeros(1), torch.zeros(1))
    with pytest.raises(MissingCompiledOpError,
                       match='choose a model without CrissCrossAttention'):
        CrissCrossAttention(8)
    assert not isinstance(nn.Conv2d(1, 1, 1), DeformConv2d)

    # Submodule imports resolve the same way.
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention
    from mmcv.ops.point_sample import point_sample
    import mmcv.ops
    assert point_sample is mmcv.ops.point_sample
    with pytest.raises(MissingCompiledOpError):
        MultiScaleDeformableAttention()
    assert not hasattr(MultiScaleDeformableAttention, 'apply')
    with pytest.raises(ImportError):
        import mmcv.ops.no_such_module  # noqa: F401
    # mmengine still sees mmcv-lite as lite.
    from mmengine.utils.dl_utils import mmcv_full_available
    assert not mmcv_full_available()
