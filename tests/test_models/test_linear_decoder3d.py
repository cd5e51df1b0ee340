"""Tests for the release's linear skip-free 3D decoder."""
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mics_mm.registry import MODELS

from mics_mm.models.backbones import UniFormer3D
from mics_mm.models.necks import BrainMVPLinearDecoder3D

BASE = 'configs/_base_/models/brainmvp_uniformer-s_3d.py'


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_release_layout_and_parameter_count():
    dec = MODELS.build(dict(type='BrainMVPLinearDecoder3D'))
    convs = list(dec.up)
    assert all(type(c) is nn.ConvTranspose3d for c in convs)
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (512, 320), (320, 128), (128, 64), (64, 64)]
    for conv in convs:
        assert conv.kernel_size == (2, 2, 2) and conv.stride == (2, 2, 2)
        assert conv.bias is None
    assert dec.out_conv.kernel_size == (1, 1, 1)
    assert dec.out_conv.bias is not None
    assert (dec.out_conv.in_channels, dec.out_conv.out_channels) == (64, 1)
    assert dec.scale == 16
    # the release's "1.74 M": 1,736,704 transposed-conv weights + 65
    assert _n_params(dec) == 1_736_769
    assert _n_params(BrainMVPLinearDecoder3D(out_channels=4)) == 1_736_964
    with pytest.raises(ValueError, match='channels'):
        BrainMVPLinearDecoder3D(channels=())


def test_shape_at_96_on_meta():
    # shapes only, no compute: a 6^3 UniFormer-S map back to 96^3
    dec = BrainMVPLinearDecoder3D().to('meta')
    out = dec(torch.empty(2, 512, 6, 6, 6, device='meta'))
    assert out.shape == (2, 1, 96, 96, 96)


@pytest.mark.slow
def test_shape_at_96():
    dec = BrainMVPLinearDecoder3D()
    with torch.no_grad():
        out = dec(torch.randn(1, 512, 6, 6, 6))  # UniFormer-S at 96^3
    assert out.shape == (1, 1, 96, 96, 96)
    assert torch.isfinite(out).all()


def test_small_shapes_tuple_input_and_linearity():
    torch.manual_seed(0)
    dec = BrainMVPLinearDecoder3D(
        in_channels=64, channels=(32, 16, 8, 8), out_channels=4)
    feat = torch.randn(2, 64, 2, 4, 2)
    out = dec(feat)
    assert out.shape == (2, 4, 32, 64, 32)
    # tuple input: the last feature is decoded
    assert torch.equal(dec((torch.randn(2, 8, 1, 1, 1), feat)), out)
    # no norm, no activation: affine in the feature
    zero = dec(torch.zeros_like(feat))
    assert torch.allclose(dec(2 * feat) - zero, 2 * (out - zero), atol=1e-5)
    # five steps undo a stride of 32 (tiny UniFormer, stride-4 stem)
    five = BrainMVPLinearDecoder3D(
        in_channels=128, channels=(32, 16, 16, 8, 8), out_channels=2)
    assert five.scale == 32
    assert five(torch.randn(1, 128, 1, 1, 1)).shape == (1, 2, 32, 32, 32)


def test_base_config_decoder_restores_backbone_input():
    torch.manual_seed(0)
    model_cfg = Config.fromfile(BASE).model
    assert model_cfg.recon_neck.type == 'BrainMVPLinearDecoder3D'
    # one modality per view: one channel in, one reconstructed
    channels = model_cfg.backbone.in_channels
    assert channels == model_cfg.recon_neck.out_channels == 1
    backbone = UniFormer3D(arch='tiny', in_channels=channels,
                           patch_strides=(2, 2, 2, 2))
    cfg = dict(model_cfg.recon_neck, in_channels=128)
    dec = MODELS.build(cfg)
    x = torch.randn(1, channels, 32, 32, 32)
    out = dec(backbone(x))
    assert out.shape == x.shape
    out.pow(2).mean().backward()
    assert backbone.patch_embeds[0].proj.weight.grad.abs().sum() > 0
