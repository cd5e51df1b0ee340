import pytest
import torch

from mics_mm.models.necks import MICSFusionNeck
from mics_mm.registry import MODELS

C = 8
B = 3
SUBSETS = [('wli', 'nbi'), ('wli', ), ('nbi', )]


def _feats(names, b=B, c=C):
    torch.manual_seed(0)
    return {m: torch.randn(b, c, requires_grad=True) for m in names}


def _neck(mode, **kwargs):
    cfg = dict(type='MICSFusionNeck', in_channels=C, mode=mode,
               embed_dims=16, num_heads=2, **kwargs)
    neck = MODELS.build(cfg)
    neck.init_weights()
    return neck


@pytest.mark.parametrize('names', SUBSETS)
@pytest.mark.parametrize('mode,width', [('concat', 2 * C), ('gated', C),
                                        ('cross_attention', 16)])
def test_output_shape(mode, width, names):
    neck = _neck(mode)
    assert neck.out_channels == width
    out = neck(_feats(names))
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (B, width)
    assert torch.isfinite(out[0]).all()


def test_concat_missing_uses_learned_embedding():
    neck = _neck('concat')
    with torch.no_grad():
        neck.missing_embeds['nbi'].fill_(2.0)
    feats = _feats(['wli'])
    out = neck(feats)[0]
    assert torch.equal(out[:, :C], feats['wli'])
    assert torch.equal(out[:, C:], torch.full((B, C), 2.0))
    out.sum().backward()
    assert neck.missing_embeds['nbi'].grad is not None
    assert neck.missing_embeds['wli'].grad is None


def test_concat_order_follows_modalities():
    neck = _neck('concat')
    feats = _feats(['nbi', 'wli'])  # dict order must not matter
    out = neck(feats)[0]
    assert torch.equal(out, torch.cat([feats['wli'], feats['nbi']], 1))


def test_gated_weights_and_single_modality():
    neck = _neck('gated')
    feats = _feats(['wli', 'nbi'])
    out = neck(feats)[0]
    w = neck.last_gate_weights
    assert w.shape == (B, 2)
    assert torch.allclose(w.sum(1), torch.ones(B))
    expected = w[:, :1] * feats['wli'] + w[:, 1:] * feats['nbi']
    assert torch.allclose(out, expected, atol=1e-6)
    single = _feats(['nbi'])
    assert torch.equal(neck(single)[0], single['nbi'])
    assert neck.last_gate_weights.shape == (B, 1)


def test_cross_attention_tokens():
    neck = _neck('cross_attention', depth=2)
    assert len(neck.layers) == 2
    out1 = neck(_feats(['wli']))[0]
    out2 = neck(_feats(['wli', 'nbi']))[0]
    assert out1.shape == out2.shape == (B, 16)
    assert not torch.allclose(out1, out2)


@pytest.mark.parametrize('mode', ['concat', 'gated', 'cross_attention'])
def test_gradients_reach_all_used_parameters(mode):
    neck = _neck(mode)
    neck.train()
    feats = _feats(['wli', 'nbi'])
    out = neck(feats)[0]
    (out**2).sum().backward()
    for m in ('wli', 'nbi'):
        assert feats[m].grad is not None and feats[m].grad.abs().sum() > 0
    for name, p in neck.named_parameters():
        if mode == 'concat' and name.startswith('missing_embeds'):
            continue  # unused when every modality is present
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('mode', ['concat', 'gated', 'cross_attention'])
def test_errors(mode):
    neck = _neck(mode)
    with pytest.raises(ValueError, match='empty'):
        neck({})
    with pytest.raises(ValueError, match='t1'):
        neck({'wli': torch.randn(B, C), 't1': torch.randn(B, C)})
    with pytest.raises(ValueError, match='channels'):
        neck({'wli': torch.randn(B, C + 1)})
    with pytest.raises(ValueError, match='mode'):
        MICSFusionNeck(C, mode='sum')


def test_feature_map_and_token_inputs():
    neck = _neck('concat')
    fmap = torch.randn(B, C, 4, 5)
    tokens = torch.randn(B, 7, C)
    out = neck({'wli': fmap, 'nbi': tokens})[0]
    assert torch.allclose(out[:, :C], fmap.mean(dim=(2, 3)))
    assert torch.equal(out[:, C:], tokens[:, 0])


def test_three_modalities():
    neck = MICSFusionNeck(C, modalities=('a', 'b', 'c'), mode='gated')
    neck({'a': torch.randn(B, C), 'c': torch.randn(B, C)})
    assert neck.last_gate_weights.shape == (B, 2)
