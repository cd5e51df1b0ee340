"""BrainMVP's proxy tasks: CMR and MD views, template gradients, CL, hook."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mics_mm.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample


def brainmvp_2d(**kwargs):
    cfg = dict(
        type='BrainMVP',
        backbone=dict(
            type='ResNet', depth=18, in_channels=2, base_channels=16,
            stem_channels=16),
        head=dict(type='InfoNCEHead', temperature=0.5),
        recon_neck=dict(
            type='BrainMVPLinearDecoder2D', in_channels=128, out_channels=2,
            encoder_stride=32),
        templates=dict(
            type='BrainMVPModalityTemplates', num_modalities=8,
            canvas=(8, 32, 32)),
        block_size=8,
        mask_ratio=0.5,
        use_cl=True)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def slice_samples(n=2, modalities=('t1', 'flair'), index=3):
    return [
        DataSample(
            metainfo=dict(
                modalities=modalities,
                canvas_offset=(0, 0, 0),
                canvas_axis=0,
                slice_index=index)) for _ in range(n)
    ]


def test_cmr_fills_masked_blocks_from_another_channel():
    model = brainmvp_2d()
    n, k = 3, 4
    x = torch.arange(1, k + 1, dtype=torch.float32).view(1, k, 1, 1).expand(
        n, k, 16, 16).contiguous()
    x = x + torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1) * 10
    mask = model._masks(x.shape, 'cpu')
    out = model.cmr_view(x, mask)
    assert torch.equal(out[mask == 0], x[mask == 0])
    for i in range(n):
        for c in range(k):
            filled = out[i, c][mask[i, c] == 1].unique()
            assert len(filled) == 1  # one partner channel per channel
            value = float(filled)
            assert value != float(x[i, c, 0, 0])  # not itself
            # ... and a channel of the same study.
            assert value in x[i, :, 0, 0].tolist()


def test_md_fills_masked_blocks_from_the_right_template_at_the_position():
    model = brainmvp_2d()
    with torch.no_grad():
        model.templates.templates.copy_(
            torch.randn_like(model.templates.templates))
    x = torch.zeros(2, 2, 32, 32)
    samples = slice_samples(index=5)
    mask = model._masks(x.shape, 'cpu')
    out = model.md_view(x, mask, samples)
    normed = model.templates.normalized()
    # t1 is vocabulary index 1, flair index 0; slice 5 along canvas axis 0.
    for channel, vocab in ((0, 1), (1, 0)):
        expected = normed[vocab, 5]
        sel = mask[0, channel] == 1
        assert torch.allclose(out[0, channel][sel], expected[sel])
        assert torch.all(out[0, channel][~sel] == 0)


def test_templates_receive_gradients_through_the_md_loss():
    model = brainmvp_2d(use_cl=False)
    x = torch.rand(2, 2, 32, 32)
    losses = model.loss(x, slice_samples())
    assert set(losses) == {'loss_md', 'loss_cmr'}
    losses['loss_md'].backward()
    grad = model.templates.templates.grad
    assert grad is not None and grad[:2].abs().sum() > 0  # flair, t1
    assert grad[2:].abs().sum() == 0  # modalities not in the batch


def test_contrastive_loss_matches_reference():
    head = MODELS.build(dict(type='InfoNCEHead', temperature=0.3))
    u, v = torch.randn(5, 8), torch.randn(5, 8)
    un, vn = F.normalize(u, dim=1), F.normalize(v, dim=1)
    ref = 0
    for i in range(5):  # row-wise transcription of InfoNCE, both directions
        ref += -torch.log(
            torch.exp(un[i] @ vn[i] / 0.3) / torch.exp(un[i] @ vn.t() / 0.3).sum())
        ref += -torch.log(
            torch.exp(vn[i] @ un[i] / 0.3) / torch.exp(vn[i] @ un.t() / 0.3).sum())
    assert torch.allclose(head.loss(u, v), ref / 10, atol=1e-5)


def seeded_losses(use_templates=True, **weights):
    """Losses of a model built and run under fixed seeds (same weights, same
    input, same masks for every call)."""
    torch.manual_seed(0)
    model = brainmvp_2d(loss_weights=weights)
    model.use_templates = use_templates
    torch.manual_seed(1)
    x = torch.rand(4, 2, 32, 32)
    return model.loss(x, slice_samples(4))


def test_2d_loss_terms_and_weights():
    unit = seeded_losses(md=1.0, cmr=1.0, cl=1.0)  # the unweighted terms
    assert set(unit) == {'loss_md', 'loss_cmr', 'loss_cl'}
    assert all(torch.isfinite(v) and v > 0 for v in unit.values())
    losses = seeded_losses(md=10.0, cmr=1.0, cl=2.0)
    assert torch.equal(losses['loss_md'], 10.0 * unit['loss_md'])
    assert torch.equal(losses['loss_cmr'], unit['loss_cmr'])
    assert torch.equal(losses['loss_cl'], 2.0 * unit['loss_cl'])
    # Changing one weight changes that term only.
    for name, weight in (('md', 3.0), ('cmr', 5.0), ('cl', 7.0)):
        weights = dict(md=10.0, cmr=1.0, cl=2.0)
        weights[name] = weight
        other = seeded_losses(**weights)
        for term in losses:
            if term == f'loss_{name}':
                assert torch.equal(other[term], weight * unit[term]), term
                assert not torch.equal(other[term], losses[term]), term
            else:
                assert torch.equal(other[term], losses[term]), (name, term)
    # After the template period: two CMR views, their mean weighted by cmr.
    unit = seeded_losses(use_templates=False)
    assert set(unit) == {'loss_cmr', 'loss_cl'}
    scaled = seeded_losses(use_templates=False, cmr=4.0, md=0.5)
    assert torch.equal(scaled['loss_cmr'], 4.0 * unit['loss_cmr'])
    assert torch.equal(scaled['loss_cl'], unit['loss_cl'])
    with pytest.raises(KeyError, match='mdd'):
        brainmvp_2d(loss_weights=dict(mdd=1.0))
    with pytest.raises(ValueError, match='block_size'):
        brainmvp_2d().loss(torch.rand(2, 2, 36, 36), slice_samples())


def test_reconstruction_is_whole_image_mse_through_recon_head():
    """MD and CMR: the MSE over every voxel between the decoder's output
    for each view and the original input, computed by ``recon_head``."""
    model = brainmvp_2d(loss_weights=dict(md=1.0, cmr=1.0))
    calls = []
    orig = model.recon_head.loss

    def spy(pred, target):
        calls.append((pred, target))
        return orig(pred, target)

    model.recon_head.loss = spy
    x = torch.rand(3, 2, 32, 32)
    losses = model.loss(x, slice_samples(3))
    assert len(calls) == 2  # MD view, then CMR view
    for (pred, target), term in zip(calls, ('loss_md', 'loss_cmr')):
        assert pred.shape == target.shape == x.shape
        assert torch.equal(target, x)
        assert torch.allclose(losses[term], F.mse_loss(pred, x))


def test_recon_head_and_module_names():
    head = MODELS.build(dict(type='BrainMVPReconHead'))
    pred, target = torch.rand(2, 3, 4, 4, 4), torch.rand(2, 3, 4, 4, 4)
    assert torch.allclose(head.loss(pred, target),
                          ((pred - target)**2).mean())
    l1 = MODELS.build(
        dict(type='BrainMVPReconHead',
             loss=dict(type='PixelReconstructionLoss', criterion='L1')))
    assert torch.allclose(l1.loss(pred, target),
                          (pred - target).abs().mean())
    with pytest.raises(ValueError, match='recon_neck'):
        head.loss(pred, target[:, :2])
    with pytest.raises(ValueError, match='recon_neck'):
        brainmvp_2d(recon_neck=None)
    # MICS' vocabulary: `neck` projects for the contrastive loss,
    # `recon_neck` decodes.
    model = brainmvp_2d(
        neck=dict(type='NonLinearNeck', in_channels=128, hid_channels=32,
                  out_channels=16, with_avg_pool=False))
    prefixes = {key.split('.')[0] for key in model.state_dict()}
    assert prefixes == {'backbone', 'neck', 'recon_neck', 'templates'}
    assert type(model.neck).__name__ == 'NonLinearNeck'
    assert type(model.recon_neck).__name__ == 'BrainMVPLinearDecoder2D'
    losses = model.loss(torch.rand(4, 2, 32, 32), slice_samples(4))
    losses['loss_cl'].backward()
    assert model.neck.fc0.weight.grad.abs().sum() > 0
    assert model.recon_neck.decoder[0].weight.grad is None


def test_3d_shapes_with_uniformer():
    model = MODELS.build(
        dict(
            type='BrainMVP',
            backbone=dict(type='UniFormer3D', arch='tiny', in_channels=2),
            head=dict(type='InfoNCEHead'),
            recon_neck=dict(
                type='BrainMVPConvDecoder3D', in_channels=128,
                channels=(64, 32, 16, 8, 8), out_channels=2, scale=32),
            templates=dict(
                type='BrainMVPModalityTemplates', num_modalities=8,
                canvas=(40, 40, 40)),
            use_cl=True))
    model.init_weights()
    samples = [
        DataSample(
            metainfo=dict(modalities=('t2', 't2'),
                          canvas_offset=(4, -2, 8))) for _ in range(2)
    ]
    x = torch.rand(2, 2, 32, 32, 32)
    losses = model.loss(x, samples)
    assert set(losses) == {'loss_md', 'loss_cmr', 'loss_cl'}
    sum(losses.values()).backward()
    assert model.templates.templates.grad[3].abs().sum() > 0  # t2


def test_schedule_hook_switches():
    model = SimpleNamespace(use_cl=False, use_templates=True)
    hook = HOOKS.build(
        dict(type='BrainMVPScheduleHook', cl_start=3, template_end=5))
    seen = []
    for epoch in range(7):
        hook.before_train_iter(
            SimpleNamespace(model=model, epoch=epoch, iter=0), 0)
        seen.append((model.use_cl, model.use_templates))
    assert seen[:3] == [(False, True)] * 3
    assert seen[3:5] == [(True, True)] * 2
    assert seen[5:] == [(True, False)] * 2
