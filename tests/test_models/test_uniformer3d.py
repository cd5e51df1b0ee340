"""Tests for the 3D UniFormer backbone and the skip-free 3D decoder."""
import pytest
import torch
import torch.nn.functional as F
from mics_mm.registry import MODELS

from mics_mm.models.backbones import UniFormer3D
from mics_mm.models.backbones.uniformer3d import _CBlock, _SABlock
from mics_mm.models.necks import BrainMVPConvDecoder3D


def _tiny(**kwargs) -> UniFormer3D:
    model = UniFormer3D(arch='tiny', **kwargs)
    model.init_weights()
    return model


def test_tiny_all_out_indices_shapes():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='UniFormer3D', arch='tiny', out_indices=(0, 1, 2, 3)))
    model.init_weights()
    outs = model(torch.randn(2, 4, 32, 32, 32))
    assert len(outs) == 4
    for out, width, stride in zip(outs, (16, 32, 64, 128), (4, 8, 16, 32)):
        assert out.shape == (2, width, 32 // stride, 32 // stride,
                             32 // stride)
    # default: only the last stage; anisotropic volume
    out, = _tiny(in_channels=2)(torch.randn(1, 2, 32, 64, 32))
    assert out.shape == (1, 128, 1, 2, 1)


def test_s_arch_depths_widths_strides_params():
    torch.manual_seed(0)
    model = UniFormer3D(arch='s', out_indices=(0, 1, 2, 3))
    model.init_weights()
    depths = [len(stage) for stage in model.stages]
    assert depths == [3, 4, 8, 3]
    block_types = [type(stage[0]) for stage in model.stages]
    assert block_types == [_CBlock, _CBlock, _SABlock, _SABlock]
    # head_dim 64 -> 5 heads at width 320, 8 heads at width 512
    assert model.stages[2][0].attn.num_heads == 5
    assert model.stages[3][0].attn.num_heads == 8
    n_params = sum(p.numel() for p in model.parameters())
    # 22,053,312 parameters with 4 input modalities
    assert 15e6 < n_params < 30e6
    with torch.no_grad():
        outs = model(torch.randn(1, 4, 32, 32, 32))
    for out, width, stride in zip(outs, (64, 128, 320, 512), (4, 8, 16, 32)):
        assert out.shape == (1, width) + (32 // stride, ) * 3


def test_gradients_reach_stem():
    torch.manual_seed(0)
    model = _tiny()
    out, = model(torch.randn(2, 4, 32, 32, 32))
    out.pow(2).mean().backward()
    grad = model.patch_embeds[0].proj.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_drop_path_stochastic_in_train_deterministic_in_eval():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 32, 32, 32)
    model = _tiny(drop_path_rate=0.5, out_indices=(3, ))
    model.train()
    a, = model(x)
    b, = model(x)
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        c, = model(x)
        d, = model(x)
    assert torch.equal(c, d)
    # without drop path, train mode is deterministic too
    plain = _tiny(drop_path_rate=0.0)
    plain.train()
    assert torch.equal(plain(x)[0], plain(x)[0])


def test_arch_errors():
    with pytest.raises(ValueError, match='tiny'):
        UniFormer3D(arch='huge')
    with pytest.raises(ValueError):
        UniFormer3D(arch=dict(depths=(1, 1, 1, 1)))
    custom = UniFormer3D(
        arch=dict(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64)),
        head_dim=16)
    assert custom.stages[3][0].attn.num_heads == 4


@pytest.mark.parametrize('scale,channels', [(32, (32, 16, 8, 8, 8)),
                                            (16, (32, 16, 8, 8))])
def test_decoder_restores_volume_shape(scale, channels):
    torch.manual_seed(0)
    dec = MODELS.build(
        dict(
            type='BrainMVPConvDecoder3D',
            in_channels=64,
            channels=channels,
            out_channels=4,
            scale=scale))
    feat = torch.randn(2, 64, 32 // scale, 64 // scale, 32 // scale)
    assert dec(feat).shape == (2, 4, 32, 64, 32)
    # tuple input: the last feature is decoded
    assert dec((torch.randn(2, 8, 1, 1, 1), feat)).shape == (2, 4, 32, 64, 32)


def test_decoder_default_and_errors():
    assert len(BrainMVPConvDecoder3D().up) == 5 * 6
    with pytest.raises(ValueError, match='len'):
        BrainMVPConvDecoder3D(channels=(256, 128, 64, 32), scale=32)
    with pytest.raises(ValueError):
        BrainMVPConvDecoder3D(channels=(8, 8), scale=6)


def test_end_to_end_reconstruction_loss_decreases():
    torch.manual_seed(0)
    # stride-16 feature of a 16^3 volume keeps the 15 steps fast on CPU
    backbone = _tiny(out_indices=(2, ))
    decoder = BrainMVPConvDecoder3D(
        in_channels=64, channels=(32, 16, 8, 8), out_channels=4, scale=16)
    x = torch.randn(2, 4, 16, 16, 16)
    params = list(backbone.parameters()) + list(decoder.parameters())
    optim = torch.optim.Adam(params, lr=1e-3)
    losses = []
    for _ in range(15):
        loss = F.mse_loss(decoder(backbone(x)), x)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.95
