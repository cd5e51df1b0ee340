"""MICSL2AttnDiscriminator's sizes: the release's by default, the small one
by name, the learned position embedding sliced to the sequence length."""
import pytest
import torch
from mmengine.config import Config

import mics_mm  # noqa: F401
from mics_mm.registry import MODELS


def build(**kwargs):
    disc = MODELS.build(dict(type='MICSL2AttnDiscriminator', **kwargs))
    disc.init_weights()
    return disc


def shape(disc):
    block = disc.blocks[0]
    return dict(
        embed_dims=disc.embed_dims,
        depth=len(disc.blocks),
        num_heads=block.attn.num_heads,
        hidden=block.mlp[0].out_features,
        pos_embed=None if disc.pos_embed is None else tuple(
            disc.pos_embed.shape))


@pytest.mark.slow  # builds a full-size model
def test_default_is_the_release_size():
    """The release's ``Discriminator(dim=768, blocks=6, num_heads=6)``,
    ``DEncoderBlock(mlp_ratio=4)`` and ``pos_emb1D`` of 577 rows
    (pretrain/models/ViT_Disc.py)."""
    disc = build(in_channels=768)
    assert disc.arch == 'release'
    assert shape(disc) == dict(embed_dims=768, depth=6, num_heads=6,
                               hidden=3072, pos_embed=(1, 577, 768))
    with torch.no_grad():
        out = disc(torch.randn(2, 576, 768))  # the most tokens it takes
    assert out.shape == (2, 2) and torch.isfinite(out).all()


def test_small_arch_and_overrides():
    assert shape(build(in_channels=8, arch='small')) == dict(
        embed_dims=256, depth=6, num_heads=4, hidden=512, pos_embed=None)
    # explicit arguments win over the arch's values
    disc = build(in_channels=8, arch='small', embed_dims=16, depth=2,
                 num_heads=2, pos_embed=True, num_tokens=5)
    assert shape(disc) == dict(embed_dims=16, depth=2, num_heads=2,
                               hidden=32, pos_embed=(1, 6, 16))
    with pytest.raises(ValueError, match="arch='big'"):
        build(in_channels=8, arch='big')


def test_position_embedding_prefix_and_length_limit():
    torch.manual_seed(0)
    disc = build(in_channels=4, embed_dims=8, depth=1, num_heads=2,
                 num_tokens=6)
    disc.eval()
    with torch.no_grad():
        disc.pos_embed.normal_()  # large enough to matter
        x = torch.randn(3, 6, 4)
        # positions are sequence indices: reordering tokens changes the
        # logits, a shorter sequence takes a prefix of the table
        perm = x[:, torch.tensor([5, 4, 3, 2, 1, 0])]
        assert not torch.allclose(disc(x), disc(perm))
        assert disc(x[:, :2]).shape == (3, 2)
        with pytest.raises(ValueError, match='num_tokens'):
            disc(torch.randn(3, 7, 4))
        # without the position embedding the order does not matter
        small = build(in_channels=4, arch='small', embed_dims=8, depth=1,
                      num_heads=2)
        small.eval()
        assert torch.allclose(small(x), small(perm), atol=1e-5)
        assert small(torch.randn(1, 1000, 4)).shape == (1, 2)


@pytest.mark.parametrize('config,arch,tokens', [
    ('configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py',
     'release', 577),
    ('configs/mics/mics_resnet50_8xb32-coslr-100e_kvasir-224px.py',
     'release', 49),
    ('configs/mics/pretrain_kvasir_demo.py', 'small', 4),
    ('configs/mics/mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py',
     'small', 65),
])
def test_configs_discriminator_takes_their_tokens(config, arch, tokens):
    """The full-size configs use the release's size and hold a position
    for every token their encoder returns; the CPU demos keep the small
    one (the release's makes a demo step 3-8 times slower)."""
    cfg = Config.fromfile(config)
    disc = cfg.model.discriminator
    assert disc.get('arch') == arch
    if arch == 'release':
        assert disc.get('num_tokens', 576) >= tokens
