"""BrainMVP's proxy tasks: CMR and MD views, template gradients, CL, hook."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mics_mm.models.selfsup.brainmvp import BrainMVP
from mics_mm.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample


def brainmvp_2d(**kwargs):
    cfg = dict(
        type='BrainMVP',
        backbone=dict(
            type='ResNet', depth=18, in_channels=1, base_channels=16,
            stem_channels=16),
        head=dict(type='InfoNCEHead', temperature=0.5),
        recon_neck=dict(
            type='BrainMVPLinearDecoder2D', in_channels=128, out_channels=1,
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
                slice_index=index,
                case=f'case{i}')) for i in range(n)
    ]


def constant_studies(n, k, size=16):
    """``x[i, c]`` is the constant ``10 * i + c + 1``: a value names its
    sample and slot."""
    x = torch.arange(1, k + 1, dtype=torch.float32).view(1, k, 1, 1)
    x = x + torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1) * 10
    return x.expand(n, k, size, size).contiguous()


def test_one_modality_per_view_and_cmr_from_another_modality():
    model = brainmvp_2d()
    torch.manual_seed(0)
    n = 3
    x = constant_studies(n, 4)
    samples = slice_samples(n, modalities=('t1', 'flair', 't2', 'pd'))
    for _ in range(5):
        view1, view2, target, kind1, kind2, fallback = model.views(
            x, samples)
        assert (kind1, kind2, fallback) == ('md', 'cmr', 0)
        assert view1.shape == view2.shape == target.shape == (n, 1, 16, 16)
        slot = int(target[0, 0, 0, 0]) - 1  # one slot for the whole batch
        assert torch.equal(target, x[:, slot:slot + 1])
        for i in range(n):
            own = float(x[i, slot, 0, 0])
            values = view2[i].unique().tolist()
            # kept blocks hold m, masked ones one other modality of study i
            assert own in values and len(values) == 2
            other = [v for v in values if v != own][0]
            assert other in x[i, :, 0, 0].tolist()
            # MD view: m where kept, the (zero) template where masked
            assert set(view1[i].unique().tolist()) <= {own, 0.0}


def test_partner_is_a_different_modality_name_not_a_duplicate():
    names = [['t1', 't1', 'flair', 't1'], ['t2', 't2', 't2', 't2'],
             ['pd', 'dwi', 'pd', 'pd']]
    torch.manual_seed(0)
    for _ in range(20):
        partners = BrainMVP.partners(names, 0)
        assert partners[0] == 2  # the only other name
        assert partners[1] == -1  # a single-modality study
        assert partners[2] == 1
        partners = BrainMVP.partners(names, 1)
        assert partners[2] in (0, 2, 3)


def test_single_modality_study_gets_md_on_both_views_and_is_counted():
    model = brainmvp_2d(use_cl=False)
    with torch.no_grad():
        model.templates.templates.copy_(
            torch.rand_like(model.templates.templates) + 5)
    torch.manual_seed(0)
    x = constant_studies(2, 2, size=32)
    samples = slice_samples(2, modalities=('t1', 't1'))
    view1, view2, target, kind1, kind2, fallback = model.views(x, samples)
    assert (kind1, kind2, fallback) == ('md', 'cmr', 2)
    for view in (view1, view2):
        masked = view != target
        assert masked.any()
        assert (view[masked] >= 0).all() and (view[masked] <= 1).all()
    losses = model.loss(x, samples)
    assert float(losses['md_fallback']) == 2.0
    # without templates there is nothing to fill a lonely study with
    with pytest.raises(ValueError, match='single-modality|one only'):
        brainmvp_2d(templates=None).loss(x, samples)


def test_md_fills_masked_blocks_from_the_right_template_at_the_position():
    model = brainmvp_2d()
    with torch.no_grad():
        model.templates.templates.copy_(
            torch.randn_like(model.templates.templates))
    target = torch.zeros(2, 1, 32, 32)
    samples = slice_samples(index=5)
    mask = model._masks(2, (32, 32), 'cpu')
    out = model.md_fill(target, mask, ['t1', 'flair'], samples)
    normed = model.templates.normalized()
    # t1 is vocabulary index 1, flair index 0; slice 5 along canvas axis 0.
    for i, vocab in ((0, 1), (1, 0)):
        expected = normed[vocab, 5]
        sel = mask[i, 0] == 1
        assert torch.allclose(out[i, 0][sel], expected[sel])
        assert torch.all(out[i, 0][~sel] == 0)


def test_templates_start_at_zero_and_receive_gradients():
    model = brainmvp_2d(use_cl=False)
    assert torch.count_nonzero(model.templates.templates) == 0  # release
    x = torch.rand(2, 2, 32, 32)
    losses = model.loss(x, slice_samples())
    assert {'loss_md', 'loss_cmr'} <= set(losses)
    losses['loss_md'].backward()
    grad = model.templates.templates.grad
    assert grad is not None and grad[:2].abs().sum() > 0  # flair or t1
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


def seeded_losses(use_md=True, use_cmr=True, **weights):
    """Losses of a model built and run under fixed seeds (same weights, same
    input, same slot, masks and partners for every call)."""
    torch.manual_seed(0)
    model = brainmvp_2d(loss_weights=weights)
    model.use_md, model.use_cmr = use_md, use_cmr
    torch.manual_seed(1)
    x = torch.rand(4, 2, 32, 32)
    losses = model.loss(x, slice_samples(4))
    assert float(losses.pop('md_fallback')) == 0.0
    return losses


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
    # The template phase: the second view is an MD view too, weighted cmr.
    phase1 = seeded_losses(use_cmr=False, md=1.0, cmr=1.0)
    assert set(phase1) == {'loss_md', 'loss_md2', 'loss_cl'}
    scaled = seeded_losses(use_cmr=False, md=1.0, cmr=3.0)
    assert torch.equal(scaled['loss_md2'], 3.0 * phase1['loss_md2'])
    # Without MD (an option, not the release): two CMR views, their mean.
    unit = seeded_losses(use_md=False)
    assert set(unit) == {'loss_cmr', 'loss_cl'}
    scaled = seeded_losses(use_md=False, cmr=4.0, md=0.5)
    assert torch.equal(scaled['loss_cmr'], 4.0 * unit['loss_cmr'])
    assert torch.equal(scaled['loss_cl'], unit['loss_cl'])
    with pytest.raises(KeyError, match='mdd'):
        brainmvp_2d(loss_weights=dict(mdd=1.0))
    with pytest.raises(ValueError, match='block_size'):
        brainmvp_2d().loss(torch.rand(2, 2, 36, 36), slice_samples())


def test_reconstruction_targets_the_one_modality_through_recon_head():
    """Both views reconstruct the same single modality ``m`` of each
    sample, the MSE over every voxel, computed by ``recon_head``."""
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
    slots = [k for k in range(2) if torch.equal(calls[0][1], x[:, k:k + 1])]
    assert len(slots) == 1
    for (pred, target), term in zip(calls, ('loss_md', 'loss_cmr')):
        assert pred.shape == target.shape == (3, 1, 32, 32)
        assert torch.equal(target, x[:, slots[0]:slots[0] + 1])
        assert torch.allclose(losses[term], F.mse_loss(pred, target))


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
            backbone=dict(type='UniFormer3D', arch='tiny', in_channels=1),
            head=dict(type='InfoNCEHead'),
            recon_neck=dict(
                type='BrainMVPConvDecoder3D', in_channels=128,
                channels=(64, 32, 16, 8, 8), out_channels=1, scale=32),
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
    # a single-modality study (t2 twice): MD on both views, counted
    assert float(losses['md_fallback']) == 2.0
    # every study fell back: the second view's loss is an MD loss
    assert {'loss_md', 'loss_md2', 'loss_cl'} == set(losses) - {'md_fallback'}
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.templates.templates.grad[3].abs().sum() > 0  # t2


def test_schedule_hook_walks_through_the_three_phases():
    model = SimpleNamespace(use_cl=False, use_cmr=True, use_md=True)
    hook = HOOKS.build(
        dict(type='BrainMVPScheduleHook', cmr_start=2, cl_start=4))
    seen, phases = [], []
    logger = SimpleNamespace(info=lambda msg: phases.append(msg))
    hub = SimpleNamespace(update_scalar=lambda *a: None)
    for epoch in range(6):
        hook.before_train_iter(
            SimpleNamespace(model=model, epoch=epoch, iter=0, logger=logger,
                            message_hub=hub), 0)
        seen.append((model.use_cmr, model.use_cl, model.use_md))
    assert seen == [(False, False, True)] * 2 + [(True, False, True)] * 2 + [
        (True, True, True)
    ] * 2
    assert [m.split()[2] for m in phases] == ['1', '2', '3']
    # md_end (an option, not the release) switches the MD view off
    hook = HOOKS.build(dict(type='BrainMVPScheduleHook', md_end=1))
    hook.before_train_iter(
        SimpleNamespace(model=model, epoch=1, iter=0, logger=logger,
                        message_hub=hub), 0)
    assert model.use_md is False
