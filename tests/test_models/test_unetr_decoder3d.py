"""The UNETR-style 3D decoder and the segmentation head's outputs: shapes at
every level, deep supervision, strides read off the backbone."""
import pytest
import torch

from mics_mm.registry import MODELS

# the release's UniFormer-S (strides 2..16) and the stride-4 stem layout
LAYOUTS = [
    ((64, 128, 320, 512), (2, 4, 8, 16)),
    ((16, 32, 64, 128), (4, 8, 16, 32)),
]


@pytest.mark.parametrize('channels,strides', LAYOUTS)
def test_decoder_outputs_coarse_to_fine(channels, strides):
    neck = MODELS.build(
        dict(type='UNETRDecoder3D', in_channels=channels, strides=strides,
             input_channels=4))
    size = 2 * strides[-1]
    x = torch.rand(1, 4, size, size, size)
    feats = [torch.rand(1, c, size // s, size // s, size // s)
             for c, s in zip(channels, strides)]
    outs = neck(feats, x)
    # one output per step, deep to shallow, the last at the input size
    assert neck.out_channels == channels[:-1][::-1] + (channels[0], )
    assert neck.out_strides == strides[:-1][::-1] + (1, )
    assert len(outs) == 4
    for out, c, s in zip(outs, neck.out_channels, neck.out_strides):
        assert tuple(out.shape) == (1, c) + (size // s, ) * 3


def test_release_layout_channels():
    """UniFormer-S: the release's dec5 .. dec2 have 320, 128, 64, 64
    channels at strides 8, 4, 2, 1."""
    neck = MODELS.build(
        dict(type='UNETRDecoder3D', in_channels=LAYOUTS[0][0],
             strides=LAYOUTS[0][1]))
    assert neck.out_channels == (320, 128, 64, 64)
    assert neck.out_strides == (8, 4, 2, 1)
    # transposed convolutions up by 2 at every step
    assert [b.transp_conv.conv.stride for b in neck.blocks] == [(2, 2, 2)] * 4


def test_decoder_rejects_wrong_features():
    neck = MODELS.build(
        dict(type='UNETRDecoder3D', in_channels=(8, 16), strides=(2, 4),
             input_channels=1))
    x = torch.rand(1, 1, 16, 16, 16)
    with pytest.raises(ValueError, match='out_indices'):
        neck([torch.rand(1, 16, 4, 4, 4)], x)
    with pytest.raises(ValueError, match='expected'):
        neck([torch.rand(1, 8, 8, 8, 8), torch.rand(1, 16, 2, 2, 2)], x)
    with pytest.raises(ValueError, match='increase'):
        MODELS.build(dict(type='UNETRDecoder3D', in_channels=(8, 16),
                          strides=(4, 6)))


def test_head_deep_supervision_levels():
    head = MODELS.build(
        dict(type='BraTSRegionHead', in_channels=(32, 16, 8, 8)))
    feats = [torch.rand(2, c, s, s, s)
             for c, s in zip((32, 16, 8, 8), (2, 4, 8, 16))]
    logits = head(feats)
    # the release's three outputs: strides 4 and 2 upsampled, and the last
    assert len(logits) == 3
    assert all(tuple(lg.shape) == (2, 3, 16, 16, 16) for lg in logits)
    assert [c.in_channels for c in head.convs] == [16, 8, 8]
    assert torch.equal(head.predict_logits(feats), logits[-1])
    # no deep supervision: one output
    single = MODELS.build(
        dict(type='BraTSRegionHead', in_channels=(32, 16, 8, 8),
             level_weights=(1., )))
    assert len(single(feats)) == 1


def test_segmentor_reads_channels_and_strides_off_the_backbone():
    model = MODELS.build(
        dict(type='BrainMVPSegmentor3D',
             backbone=dict(type='UniFormer3D', arch='tiny', in_channels=4,
                           out_indices=(0, 1, 2, 3)),
             neck=dict(type='UNETRDecoder3D'),
             head=dict(type='BraTSRegionHead')))
    size = 32
    feats = model.backbone.eval()(torch.zeros(1, 4, size, size, size))
    model.train()
    assert model.neck.in_channels == tuple(f.shape[1] for f in feats)
    assert model.neck.strides == tuple(size // f.shape[2] for f in feats)
    assert model.neck.input_channels == 4
    assert model.head.in_channels == model.neck.out_channels
    outs = model(torch.rand(2, 4, size, size, size), mode='tensor')
    assert [tuple(o.shape) for o in outs] == [(2, 3, size, size, size)] * 3
