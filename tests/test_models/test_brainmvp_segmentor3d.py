"""BrainMVPSegmentor3D: sliding-window prediction over whole volumes, the
pre-trained encoder (stem re-initialised or inflated), template channel
substitution and missing-modality filling at the sample's canvas position
(also when the pipeline mirrored the patch), and the two-view MSE."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mics_mm.datasets.transforms import RandomFlip3D, RandomPatch3D
from mics_mm.models.segmentors import template_substitution
from mics_mm.registry import MODELS

MODS = ('flair', 't1', 't2', 'pd')  # BrainMVP vocabulary: 0, 1, 3, 5
VOCAB = ('flair', 't1', 't1c', 't2', 'mra', 'pd', 'dwi', 'adc')
CANVAS = (12, 14, 10)


def _templates():
    """8 templates with different ranges (min-max normalised when used)."""
    gen = torch.Generator().manual_seed(0)
    raw = torch.rand((8, ) + CANVAS, generator=gen)
    return raw * torch.arange(1, 9).view(8, 1, 1, 1) + 3


def _normalised(m):
    t = _templates()[m]
    return (t - t.min()) / (t.max() - t.min())


def _checkpoint(path, in_channels=1):
    """A BrainMVP-style checkpoint: a tiny encoder under 'backbone.' (the
    pre-training stem takes one channel) and the templates."""
    backbone = MODELS.build(
        dict(type='UniFormer3D', arch='tiny', in_channels=in_channels,
             out_indices=(0, 1, 2, 3)))
    backbone.init_weights()
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['templates.templates'] = _templates()
    torch.save(dict(state_dict=state), str(path))
    return backbone


def _model(**kwargs):
    cfg = dict(
        type='BrainMVPSegmentor3D',
        backbone=dict(type='UniFormer3D', arch='tiny', in_channels=4,
                      out_indices=(0, 1, 2, 3)),
        neck=dict(type='UNETRDecoder3D'),
        head=dict(type='BraTSRegionHead'),
        test_cfg=dict(roi_size=32, overlap=0.5, sw_batch_size=2))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _sample(offset=(0, 0, 0), flip=(), missing=(), seg=None, case='c'):
    s = DataSample()
    s.set_metainfo(dict(case=case, modalities=MODS, canvas_offset=offset,
                        canvas_shape=CANVAS, flip_axes=flip,
                        missing_modalities=missing))
    if seg is not None:
        s.set_field(seg, 'gt_seg', dtype=torch.Tensor)
    return s


def _crop(m, offset, size):
    """Template m cropped at ``offset`` (zeros off the canvas), by hand."""
    t = _normalised(m)
    out = torch.zeros(size)
    src, dst = [], []
    for o, s, c in zip(offset, size, CANVAS):
        lo, hi = max(o, 0), min(o + s, c)
        src.append(slice(lo, hi))
        dst.append(slice(lo - o, hi - o))
    out[tuple(dst)] = t[tuple(src)]
    return out


# ------------------------------------------------------ sliding windows
def test_sliding_window_prediction_covers_the_whole_volume():
    """With a predictor that reads its logits off the input, the stitched
    prediction must give back the input at every voxel of a volume that is
    no multiple of the window (and thinner than it along one axis)."""
    model = _model(test_cfg=dict(roi_size=16)).eval()
    x = torch.rand(1, 4, 37, 45, 12)
    windows = []

    def predictor(window):
        windows.append(tuple(window.shape[2:]))
        return (window[:, :3] > 0.5).float() * 20 - 10

    model._final_logits = predictor
    sample = model.predict(x, [DataSample()])[0]
    assert tuple(sample.pred_seg.shape) == (37, 45, 12)
    want = model.head.predict((x[:, :3] > 0.5).float() * 20 - 10)[0]
    assert torch.equal(sample.pred_seg, want)
    assert set(windows) == {(16, 16, 16)} and len(windows) > 1


def test_predict_with_the_network_labels_every_voxel():
    model = _model().eval()
    out = model(torch.rand(2, 4, 40, 36, 20), mode='predict')
    assert [tuple(s.pred_seg.shape) for s in out] == [(40, 36, 20)] * 2
    assert set(out[0].pred_seg.unique().tolist()) <= {0, 1, 2, 4}


# ------------------------------------------------------ pre-trained encoder
def test_one_channel_stem_inflates_over_four_channels(tmp_path):
    ckpt = tmp_path / 'brainmvp.pth'
    one = _checkpoint(ckpt, in_channels=1).eval()
    model = _model(pretrained=str(ckpt), stem_init='inflate').eval()
    x = torch.rand(2, 1, 32, 32, 32)
    # 4 identical channels through kernel / 4 = the 1-channel stem on one
    for a, b in zip(model.backbone(x.repeat(1, 4, 1, 1, 1)), one(x)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    stem = model.backbone.state_dict()['patch_embeds.0.proj.weight']
    ref = one.state_dict()['patch_embeds.0.proj.weight']
    assert torch.allclose(stem, ref.repeat(1, 4, 1, 1, 1) / 4)
    # every other tensor as in the checkpoint
    own, ref = model.backbone.state_dict(), one.state_dict()
    assert all(torch.equal(own[k], ref[k]) for k in own
               if not k.startswith('patch_embeds.0.proj'))


def test_reinit_keeps_the_random_stem_and_loads_the_rest(tmp_path):
    ckpt = tmp_path / 'brainmvp.pth'
    one = _checkpoint(ckpt, in_channels=1)
    model = _model()  # stem_init='reinit' (the release)
    model.pretrained = str(ckpt)
    stem = model.backbone.patch_embeds[0].proj.weight.detach().clone()
    model.load_pretrained(str(ckpt))
    assert torch.equal(model.backbone.patch_embeds[0].proj.weight, stem)
    own, ref = model.backbone.state_dict(), one.state_dict()
    loaded = [k for k in own if not k.startswith('patch_embeds.0.proj')]
    assert all(torch.equal(own[k], ref[k]) for k in loaded)


def test_stem_options_and_errors(tmp_path):
    same = tmp_path / 'four.pth'
    four = _checkpoint(same, in_channels=4)
    model = _model(pretrained=str(same), stem_init='inflate')
    assert torch.equal(model.backbone.patch_embeds[0].proj.weight,
                       four.patch_embeds[0].proj.weight)  # loaded as is
    two = tmp_path / 'two.pth'
    _checkpoint(two, in_channels=2)
    with pytest.raises(ValueError, match='shape mismatch at backbone.patch'):
        _model(pretrained=str(two), stem_init='inflate')
    with pytest.raises(ValueError, match='stem_init'):
        _model(stem_init='copy')
    with pytest.raises(ValueError, match='templates='):
        _model(template_mix=True)


# ------------------------------------------------------ templates
@pytest.fixture
def templated(tmp_path):
    ckpt = tmp_path / 'brainmvp.pth'
    _checkpoint(ckpt)
    return _model(templates=str(ckpt), template_mix=True)


def test_substitution_replaces_k_channels_with_the_template_crop(
        templated):
    sub = templated.template_sub
    size = (8, 8, 8)
    offsets = [(0, 0, 0), (6, 8, 4), (-2, 3, 5)]  # the last partly off
    inputs = torch.rand(3, 4, *size) + 5  # no template value reaches 5
    samples = [_sample(o) for o in offsets]
    gen = torch.Generator().manual_seed(3)
    seen = set()
    for _ in range(6):
        out, chosen = sub.substitute(inputs, samples, gen)
        for i, chans in enumerate(chosen):
            seen.add(len(chans))
            assert len(chans) <= 3 and len(set(chans)) == len(chans)
            for c in range(4):
                if c in chans:
                    want = _crop(VOCAB.index(MODS[c]), offsets[i], size)
                    torch.testing.assert_close(out[i, c], want)
                else:
                    assert torch.equal(out[i, c], inputs[i, c])
            # exactly k channels differ from the input
            changed = [(out[i, c] != inputs[i, c]).any().item()
                       for c in range(4)]
            assert sum(changed) == len(chans)
    assert seen >= {1, 2, 3}


def test_number_of_substituted_channels_follows_the_release():
    """k ~ U{0..3}, capped at C - 1: P(k) = 1/4 each with 4 channels; with
    2 channels k = 0 (prob. 1/4) or 1 (3/4)."""
    sub = template_substitution.BrainMVPTemplateSubstitution()
    gen = torch.Generator().manual_seed(0)
    counts = np.bincount([len(c) for c in sub.draw(4000, 4, gen)],
                         minlength=4)
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)
    counts = np.bincount([len(c) for c in sub.draw(4000, 2, gen)],
                         minlength=2)
    assert len(counts) == 2 and abs(counts[1] / 4000 - 0.75) < 0.03


def test_template_follows_a_mirrored_patch(templated):
    """The image is the t1 template itself: a patch of it, mirrored by
    RandomFlip3D, is given back exactly by the t1 template crop."""
    t1 = _normalised(VOCAB.index('t1')).numpy()
    results = dict(img=np.stack([t1] * 4), canvas_offset=(0, 0, 0),
                   canvas_shape=CANVAS)
    np.random.seed(1)
    results = RandomPatch3D(size=(8, 8, 8))(results)
    results = RandomFlip3D(axes=(0, 1, 2), prob=1.0)(results)
    assert results['flip_axes'] == (0, 1, 2)
    patch = torch.from_numpy(results['img'])[None]
    sample = _sample(results['canvas_offset'], results['flip_axes'])
    out = templated.template_sub.replace(
        torch.zeros_like(patch), [sample], [(0, 1)], mask=False)
    torch.testing.assert_close(out[0, 1], patch[0, 1])
    # without the flip metadata the crop would not match
    plain = templated.template_sub.replace(
        torch.zeros_like(patch), [_sample(results['canvas_offset'])],
        [(0, 1)], mask=False)
    assert not torch.allclose(plain[0, 1], patch[0, 1])


def test_missing_modalities_filled_inside_the_head(templated):
    x = torch.zeros(1, 4, 8, 8, 8)
    x[0, 1, 2:6, 2:6, 2:6] = 1.0  # t1 present; head = its non-zero box
    sample = _sample((1, 2, 0), missing=('flair', 't2', 'pd'))
    out = templated._fill(x, [sample])
    head = (x[0, 1] > 0).float()
    assert torch.equal(out[0, 1], x[0, 1])
    for c in (0, 2, 3):
        want = _crop(VOCAB.index(MODS[c]), (1, 2, 0), (8, 8, 8)) * head
        torch.testing.assert_close(out[0, c], want)


def test_templates_read_once_and_kept_on_the_device(templated, monkeypatch):
    calls = []
    real = template_substitution.load_templates

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(template_substitution, 'load_templates', counting)
    x = torch.rand(2, 4, 8, 8, 8)
    samples = [_sample(), _sample((1, 1, 1))]
    for _ in range(3):
        templated.template_sub.substitute(x, samples)
        templated._fill(x, [_sample(missing=('pd', ))] * 2)
    assert len(calls) == 1
    buf = templated.template_sub.templates
    assert buf.device == x.device
    # a buffer of the model (moved by model.to(device)), not saved with it
    assert any(b is buf for b in templated.buffers())
    assert not any('templates' in k for k in templated.state_dict())


# ------------------------------------------------------ the two views
def test_loss_with_two_views_and_feature_mse(tmp_path):
    ckpt = tmp_path / 'brainmvp.pth'
    _checkpoint(ckpt)
    model = _model(templates=str(ckpt), template_mix=True,
                   feature_mse_weight=0.1, intensity_shift=0.1,
                   intensity_scale=0.1)
    model.train()
    size = (32, 32, 32)
    x = torch.rand(2, 4, *size)
    seg = torch.randint(0, 3, (2, ) + size)
    samples = [_sample((0, 0, 0), seg=seg[0]),
               _sample((-2, -1, -3), flip=(0, 1, 2), seg=seg[1])]
    torch.manual_seed(0)
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_seg', 'loss_mse'}
    # the same draws, by hand: intensity, then view a, then view b
    torch.manual_seed(0)
    shift = (torch.rand(2, 1, 1, 1, 1) * 2 - 1) * 0.1
    scale = 1 + (torch.rand(2, 1, 1, 1, 1) * 2 - 1) * 0.1
    views, logits = [], []
    for _ in range(2):
        view, _ = model.template_sub.substitute(x, samples)
        view = (view + shift) * scale
        views.append(view)
        logits.append(model._levels(view)[1])
    mse = F.mse_loss(logits[0][0], logits[1][0])  # first DS output
    torch.testing.assert_close(losses['loss_mse'], 0.1 * mse)
    seg_loss = model.head.loss(
        [torch.cat(pair) for pair in zip(*logits)], torch.cat([seg, seg]))
    torch.testing.assert_close(losses['loss_seg'], seg_loss['loss_seg'])
    assert not torch.equal(views[0], views[1])
    losses['loss_seg'].add(losses['loss_mse']).backward()
    assert model.backbone.patch_embeds[0].proj.weight.grad is not None


def test_loss_needs_labels():
    model = _model()
    with pytest.raises(KeyError, match='gt_seg'):
        model(torch.rand(1, 4, 16, 16, 16), [_sample()], mode='loss')
