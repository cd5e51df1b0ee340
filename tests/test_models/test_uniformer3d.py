"""Tests for the 3D UniFormer backbone and the skip-free 3D conv decoder."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mics_mm.registry import MODELS

from mics_mm.models.backbones import UniFormer3D, uniformer3d
from mics_mm.models.backbones.uniformer3d import _CBlock, _SABlock
from mics_mm.models.necks import BrainMVPConvDecoder3D


def _tiny(**kwargs) -> UniFormer3D:
    model = UniFormer3D(arch='tiny', **kwargs)
    model.init_weights()
    return model


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


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


def test_s_arch_is_the_release_uniformer_s():
    torch.manual_seed(0)
    # PyTorch's default init: init_weights' truncated normal over 22 M
    # parameters would be most of this test's time
    model = UniFormer3D(arch='s', in_channels=1, out_indices=(0, 1, 2, 3))
    depths = [len(stage) for stage in model.stages]
    assert depths == [3, 4, 8, 3]
    block_types = [type(stage[0]) for stage in model.stages]
    assert block_types == [_CBlock, _CBlock, _SABlock, _SABlock]
    # head_dim 64 -> 5 heads at width 320, 8 heads at width 512
    assert model.stages[2][0].attn.num_heads == 5
    assert model.stages[3][0].attn.num_heads == 8
    assert model.stages[2][0].attn.qkv.bias is not None
    assert model.stages[3][0].norm1.eps == 1e-6
    # kernel-2 stride-2 embeddings at every stage, BatchNorm3d at the end
    for embed in model.patch_embeds:
        assert embed.proj.kernel_size == (2, 2, 2)
        assert embed.proj.stride == (2, 2, 2)
    assert model.strides == (2, 4, 8, 16)
    assert isinstance(model.norm, nn.BatchNorm3d)
    assert model.norm.num_features == 512
    # the release's "22.04 M" with one input channel (breakdown in the
    # class docstring); 512 more per further input channel
    assert _n_params(model) == 22_038_464
    assert _n_params(UniFormer3D(arch='s', in_channels=4)) == 22_040_000
    # the earlier layout: stride-4 stem, no final norm
    old = UniFormer3D(
        arch='s', in_channels=4, patch_strides=(4, 2, 2, 2),
        final_norm=False)
    assert _n_params(old) == 22_053_312
    assert old.strides == (4, 8, 16, 32)
    assert isinstance(old.norm, nn.Identity)
    with torch.no_grad():
        outs = model(torch.randn(1, 1, 32, 32, 32))
    for out, width, stride in zip(outs, (64, 128, 320, 512), (2, 4, 8, 16)):
        assert out.shape == (1, width) + (32 // stride, ) * 3


def test_release_strides_at_96():
    model = UniFormer3D(arch='tiny', in_channels=1,
                        patch_strides=(2, 2, 2, 2), out_indices=(0, 3))
    model.init_weights()
    with torch.no_grad():
        first, last = model(torch.randn(1, 1, 96, 96, 96))
    assert first.shape == (1, 16, 48, 48, 48)
    assert last.shape == (1, 128, 6, 6, 6)  # the release's 6^3 map


def test_final_norm_only_on_last_stage():
    torch.manual_seed(0)
    model = _tiny(out_indices=(2, 3))
    raw = {}
    model.stages[3].register_forward_hook(
        lambda mod, inp, out: raw.setdefault('out', out))
    model.train()
    third, last = model(torch.randn(2, 4, 64, 64, 64))
    # batch statistics in training: zero mean, unit variance per channel
    assert last.mean(dim=(0, 2, 3, 4)).abs().max() < 1e-5
    assert torch.allclose(
        last.var(dim=(0, 2, 3, 4), unbiased=False), torch.ones(128),
        atol=1e-3)
    assert not torch.allclose(last, raw['out'])
    assert third.mean(dim=(0, 2, 3, 4)).abs().max() > 1e-3
    plain = _tiny(final_norm=False)
    assert not any(k.startswith('norm.') for k in plain.state_dict())


def test_patch_strides_defaults_and_errors():
    assert UniFormer3D(arch='tiny').patch_strides == (4, 2, 2, 2)
    assert UniFormer3D(
        arch='tiny', patch_strides=(2, 2, 2, 2)).strides == (2, 4, 8, 16)
    custom = dict(depths=(1, 1, 1, 1), widths=(8, 16, 32, 64))
    assert UniFormer3D(arch=custom, head_dim=16).strides == (2, 4, 8, 16)
    custom['patch_strides'] = (1, 2, 2, 4)
    assert UniFormer3D(arch=custom, head_dim=16).strides == (1, 2, 4, 16)
    with pytest.raises(ValueError, match='patch_strides'):
        UniFormer3D(arch='tiny', patch_strides=(2, 2, 2))
    with pytest.raises(ValueError, match='patch_strides'):
        UniFormer3D(arch='tiny', patch_strides=(2, 0, 2, 2))
    with pytest.raises(ValueError, match='with_cp'):
        UniFormer3D(arch='tiny', with_cp=(True, False))


@pytest.mark.parametrize('with_cp', [True, (True, False, False, True)])
def test_with_cp_same_outputs_gradients_and_bn_stats(with_cp, monkeypatch):
    torch.manual_seed(0)
    kwargs = dict(arch='tiny', in_channels=1, patch_strides=(2, 2, 2, 2),
                  out_indices=(1, 3), drop_path_rate=0.3)
    ref = UniFormer3D(**kwargs)
    ref.init_weights()
    ckp = UniFormer3D(with_cp=with_cp, **kwargs)
    ckp.load_state_dict(ref.state_dict())
    calls = []
    real = uniformer3d.cp.checkpoint
    monkeypatch.setattr(uniformer3d.cp, 'checkpoint',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    x = torch.randn(2, 1, 32, 32, 32)
    outs = []
    for model in (ref, ckp):
        model.train()
        torch.manual_seed(1)  # same drop-path draws
        feats = model(x)
        (feats[0].pow(2).mean() + feats[1].pow(2).mean()).backward()
        outs.append(feats)
    assert len(calls) == (4 if with_cp is True else 2)  # one per block
    for a, b in zip(*outs):
        assert torch.allclose(a, b, atol=1e-6)
    for (name, p), q in zip(ref.named_parameters(), ckp.parameters()):
        assert p.grad is not None, name
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name
    # the re-computation does not update BatchNorm statistics twice
    for (name, a), b in zip(ref.state_dict().items(),
                            ckp.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name
    # no checkpointing without gradients
    calls.clear()
    with torch.no_grad():
        ckp(x)
    assert not calls


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


@pytest.mark.parametrize('init_type', ['Pretrained', 'InflatedPretrained'])
def test_pretrained_init_cfg_is_not_overwritten(init_type, monkeypatch):
    calls = []
    monkeypatch.setattr(uniformer3d.BaseModule, 'init_weights',
                        lambda self: calls.append(type(self).__name__))
    model = UniFormer3D(
        arch='tiny', init_cfg=dict(type=init_type, checkpoint='x.pth'))
    before = model.patch_embeds[0].proj.weight.clone()
    model.init_weights()
    assert calls == ['UniFormer3D']  # the init_cfg loads the weights
    assert torch.equal(model.patch_embeds[0].proj.weight, before)
