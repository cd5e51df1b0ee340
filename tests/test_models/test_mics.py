"""MICS pre-training: shapes, loss maths, gradients, and learning."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapperDict, build_optim_wrapper

import mics_mm  # noqa: F401
from mics_mm.models.utils import random_patch_mask
from mics_mm.registry import MODELS

MEAN_STD = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def tiny_resnet_mics(**kwargs):
    cfg = dict(
        type='MICS',
        backbone=dict(
            type='MaskedResNet',
            depth=18,
            mask_patch_size=8,
            base_channels=16,
            stem_channels=16),
        neck=dict(
            type='LinearNeck', in_channels=128, out_channels=32,
            norm_cfg=None),
        head=dict(type='MICSConsistencyHead', feat_dim=32, queue_size=16),
        recon_neck=dict(
            type='SimMIMLinearDecoder', in_channels=128, encoder_stride=32),
        recon_head=dict(
            type='SimMIMHead',
            patch_size=8,
            loss=dict(
                type='PixelReconstructionLoss', criterion='L2', channel=3)),
        discriminator=dict(
            type='MICSL2AttnDiscriminator',
            arch='small',
            in_channels=128,
            embed_dims=32,
            depth=1,
            num_heads=2),
        data_preprocessor=dict(type='PerModalityDataPreprocessor', **MEAN_STD))
    cfg.update(kwargs)
    return cfg


def tiny_vit_mics(**kwargs):
    arch = dict(
        embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
    cfg = dict(
        type='MICS',
        backbone=dict(
            type='MAEViT', arch=arch, img_size=32, patch_size=8,
            mask_ratio=0.75),
        neck=dict(
            type='LinearNeck', in_channels=32, out_channels=16,
            norm_cfg=None),
        head=dict(type='MICSConsistencyHead', feat_dim=16, queue_size=16),
        recon_neck=dict(
            type='MAEPretrainDecoder',
            num_patches=16,
            patch_size=8,
            embed_dim=32,
            decoder_embed_dim=16,
            decoder_depth=1,
            decoder_num_heads=2),
        recon_head=dict(
            type='MAEPretrainHead',
            norm_pix=False,
            patch_size=8,
            loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        discriminator=dict(
            type='MICSL2AttnDiscriminator',
            arch='small',
            in_channels=32,
            embed_dims=16,
            depth=1,
            num_heads=2),
        data_preprocessor=dict(type='PerModalityDataPreprocessor', **MEAN_STD))
    cfg.update(kwargs)
    return cfg


def build(cfg):
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def optim(model, lr=1e-3):
    cfg = dict(
        constructor='PartwiseOptimWrapperConstructor',
        generator=dict(
            type='OptimWrapper', optimizer=dict(type='AdamW', lr=lr)))
    if getattr(model, 'discriminator', None) is not None:
        cfg['discriminator'] = dict(
            type='OptimWrapper',
            optimizer=dict(type='Adam', lr=2e-3, betas=(0.5, 0.999)))
    return build_optim_wrapper(model, cfg)


def batch(n=8, size=32, seed=0, modalities=('wli', 'nbi')):
    """Smooth random images (4x4 colour noise upsampled): learnable."""
    g = torch.Generator().manual_seed(seed)

    def image():
        low = torch.rand(1, 3, 4, 4, generator=g) * 255
        up = F.interpolate(low, size=(size, size), mode='bilinear')
        return up[0].round().to(torch.uint8)

    return dict(
        inputs={m: [image() for _ in range(n)]
                for m in modalities},
        data_samples=None)


@pytest.mark.parametrize('make', [tiny_resnet_mics, tiny_vit_mics])
def test_train_step_logs_every_term(make):
    model = build(make())
    logs = model.train_step(batch(), optim(model))
    for key in ('loss', 'loss_recon', 'loss_consistency', 'loss_aligned',
                'loss_disc', 'temperature'):
        assert key in logs and torch.isfinite(logs[key]), key
    total = logs['loss_recon'] + logs['loss_consistency'] + logs[
        'loss_aligned']
    assert torch.allclose(logs['loss'], total)


def test_loss_weights_scale_terms():
    data = batch()
    model = build(tiny_resnet_mics())
    proc = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(1)
    base = model(**proc, mode='loss')
    model2 = build(
        tiny_resnet_mics(
            loss_weights=dict(reconstruction=1.0, aligned=1.0,
                              consistency=2.0)))
    torch.manual_seed(1)
    scaled = model2(**proc, mode='loss')
    assert torch.allclose(scaled['loss_recon'] * 10, base['loss_recon'])
    assert torch.allclose(scaled['loss_aligned'] * 0.1, base['loss_aligned'],
                          atol=1e-6)
    with pytest.raises(KeyError, match='recon'):
        build(tiny_resnet_mics(loss_weights=dict(recon=1.0)))


def test_switches_turn_losses_off():
    model = build(
        tiny_resnet_mics(discriminator=None, recon_neck=None,
                         recon_head=None))
    ow = build_optim_wrapper(
        model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    logs = model.train_step(batch(), ow)
    assert 'loss_consistency' in logs
    assert not {'loss_recon', 'loss_aligned', 'loss_disc'} & set(logs)
    with pytest.raises(ValueError, match='every loss is switched off'):
        build(
            tiny_resnet_mics(
                head=None, discriminator=None, recon_neck=None,
                recon_head=None))


def test_switched_off_discriminator_skips_its_optimizer():
    model = build(tiny_resnet_mics(discriminator=None))
    cfg = dict(
        constructor='PartwiseOptimWrapperConstructor',
        generator=dict(type='OptimWrapper',
                       optimizer=dict(type='AdamW', lr=1e-3)),
        discriminator=dict(type='OptimWrapper',
                           optimizer=dict(type='Adam', lr=2e-3)))
    ow = build_optim_wrapper(model, cfg)
    assert list(ow.keys()) == ['generator']
    logs = model.train_step(batch(), ow)
    assert 'loss_aligned' not in logs and 'loss_consistency' in logs
    cfg['discrimnator'] = cfg.pop('discriminator')  # a typo still fails
    with pytest.raises(KeyError, match='discrimnator'):
        build_optim_wrapper(model, cfg)


def test_aligned_needs_discriminator_optimizer():
    model = build(tiny_resnet_mics())
    ow = build_optim_wrapper(
        model, dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    with pytest.raises(TypeError, match='discriminator'):
        model.train_step(batch(), ow)


def test_recon_needs_maskable_backbone():
    with pytest.raises(TypeError, match='MaskedResNet'):
        build(
            tiny_resnet_mics(
                backbone=dict(
                    type='ResNet',
                    depth=18,
                    base_channels=16,
                    stem_channels=16)))


def test_missing_modality_in_batch_is_named():
    model = build(tiny_resnet_mics())
    data = batch(modalities=('wli', ))
    with pytest.raises(KeyError, match='nbi'):
        model.train_step(data, optim(model))


def test_three_modalities():
    """A third modality reaches every loss in its own slot: the consistency
    head gets 3 online / momentum features (modality k's in slot k) and its
    value is the mean over the 3 x 2 ordered pairs, the discriminator labels
    are 0 / 1 / 2, the reconstruction target holds the three inputs in
    order, and changing only the third input changes every term."""
    from itertools import permutations

    from mics_mm.models.utils import global_feature
    mods, n = ('wli', 'nbi', 'lci'), 4

    def make():
        cfg = tiny_resnet_mics(modalities=mods)
        cfg['head']['num_modalities'] = 3
        cfg['discriminator']['num_modalities'] = 3
        return build(cfg)

    def spy(module, seen, key):
        orig = module.loss

        def record(*args):
            seen[key] = args
            return orig(*args)

        module.loss = record

    model = make()
    logs = model.train_step(batch(n=n, modalities=mods), optim(model))
    for key in ('loss', 'loss_recon', 'loss_consistency', 'loss_aligned',
                'loss_disc'):
        assert torch.isfinite(logs[key]), key

    # Eval mode: BatchNorm uses its running statistics, so a modality's
    # features do not depend on the other modalities of the batch.
    model = make().eval()
    proc = model.data_preprocessor(batch(n=n, modalities=mods), True)
    x = [proc['inputs'][m] for m in mods]
    queue = model.head.queue.clone()
    seen = {}
    spy(model.head, seen, 'consistency')
    spy(model.aligned_head, seen, 'aligned')
    spy(model.recon_head, seen, 'recon')
    torch.manual_seed(1)
    losses = model(**proc, mode='loss')

    feats, momentum = seen['consistency']
    assert len(feats) == len(momentum) == 3
    with torch.no_grad():
        for k in range(3):  # slot k holds modality k's projection
            expected = model.neck(
                (global_feature(model.backbone(x[k], mask=None)[-1]), ))[0]
            assert torch.allclose(feats[k], expected, atol=1e-5), mods[k]
            m_backbone, m_neck = model.momentum_encoder.module
            expected = m_neck(
                (global_feature(m_backbone(x[k], mask=None)[-1]), ))[0]
            assert torch.allclose(momentum[k], expected, atol=1e-5), mods[k]
    # The value: the ITA loss averaged over all 6 ordered pairs (a, b).
    f = [F.normalize(v, dim=-1) for v in feats]
    m = [F.normalize(v, dim=-1) for v in momentum]
    pairs = list(permutations(range(3), 2))
    assert len(pairs) == 6
    ref = 0
    for a, b in pairs:
        keys = torch.cat([m[b], queue[b]])
        target = 0.4 * (m[a] @ keys.t() / 0.07).softmax(1)
        target[range(n), range(n)] += 0.6
        ref += -((f[a] @ keys.t() / 0.07).log_softmax(1) *
                 target).sum(1).mean()
    assert torch.allclose(losses['loss_consistency'], ref / 6, atol=1e-5)

    logits, labels = seen['aligned']
    assert logits.shape == (3 * n, 3)
    assert labels.tolist() == [0] * n + [1] * n + [2] * n
    pred, target, _ = seen['recon']
    assert pred.shape == target.shape == (3 * n, 3, 32, 32)
    assert torch.equal(target, torch.cat(x))

    # Only the third modality's images change: its slot changes in every
    # head's inputs, the other two stay as they were, and so does each term.
    other = batch(n=n, modalities=mods)
    other['inputs']['lci'] = batch(n=n, seed=7)['inputs']['wli']
    model = make().eval()
    again = {}
    spy(model.head, again, 'consistency')
    spy(model.aligned_head, again, 'aligned')
    spy(model.recon_head, again, 'recon')
    torch.manual_seed(1)
    changed = model(**model.data_preprocessor(other, True), mode='loss')
    for k, same in enumerate((True, True, False)):
        for i in range(2):  # online and momentum features
            assert torch.equal(again['consistency'][i][k],
                               seen['consistency'][i][k]) == same, (k, i)
        for key in ('aligned', 'recon'):  # logits / predictions
            rows = slice(k * n, (k + 1) * n)
            assert torch.equal(again[key][0][rows],
                               seen[key][0][rows]) == same, (k, key)
    for term in ('loss_recon', 'loss_consistency', 'loss_aligned'):
        assert not torch.equal(changed[term], losses[term]), term


def test_optimizers_split_parameters():
    model = build(tiny_resnet_mics())
    ow = optim(model)
    assert isinstance(ow, OptimWrapperDict)

    def ids(wrapper):
        return {
            id(p)
            for g in wrapper.optimizer.param_groups for p in g['params']
        }

    gen, disc = ids(ow['generator']), ids(ow['discriminator'])
    assert disc == {id(p) for p in model.discriminator.parameters()}
    assert not gen & disc
    assert {id(p) for p in model.backbone.parameters()} <= gen
    # The encoder step must not move the discriminator, and vice versa.
    d_before = copy.deepcopy(model.discriminator.state_dict())
    b_before = copy.deepcopy(model.backbone.state_dict())
    model.train_step(batch(), ow)
    assert any(not torch.equal(v, d_before[k])
               for k, v in model.discriminator.state_dict().items())
    assert any(not torch.equal(v, b_before[k])
               for k, v in model.backbone.state_dict().items())


@pytest.mark.parametrize('make', [tiny_resnet_mics, tiny_vit_mics])
def test_aligned_gradient_reaches_encoder(make):
    """The released code detached this term; here it must train the encoder."""
    model = build(make(head=None, recon_neck=None, recon_head=None))
    proc = model.data_preprocessor(batch(), True)
    losses = model(**proc, mode='loss')
    losses['loss_aligned'].backward()
    grads = [
        p.grad.abs().sum() for p in model.backbone.parameters()
        if p.grad is not None
    ]
    assert grads and sum(grads) > 0
    tokens, labels = losses[model.DISC_INPUTS]
    assert not tokens.requires_grad


def consistency_reference(feats, momentum, queues, temp, alpha):
    """Straight transcription of the ALBEF/MICS ITA loss for 2 modalities."""
    f = [F.normalize(x, dim=-1) for x in feats]
    m = [F.normalize(x, dim=-1) for x in momentum]
    total = 0
    for a, b in ((0, 1), (1, 0)):
        keys = torch.cat([m[b], queues[b]], 0)
        sim = f[a] @ keys.t() / temp
        sim_m = m[a] @ keys.t() / temp
        target = torch.zeros_like(sim)
        target[range(len(sim)), range(len(sim))] = 1
        target = alpha * sim_m.softmax(1) + (1 - alpha) * target
        total += -(sim.log_softmax(1) * target).sum(1).mean()
    return total / 2


def test_consistency_head_matches_reference_and_enqueues():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='MICSConsistencyHead', feat_dim=8, queue_size=6,
             alpha=0.4))
    head.alpha_scale = 0.5
    feats = [torch.randn(4, 8), torch.randn(4, 8)]
    momentum = [torch.randn(4, 8), torch.randn(4, 8)]
    queues = [head.queue[0].clone(), head.queue[1].clone()]
    loss = head.loss(feats, momentum)
    ref = consistency_reference(feats, momentum, queues, 0.07, 0.2)
    assert torch.allclose(loss, ref, atol=1e-5)
    # Enqueued only once backward is done (flush), so the graph's queue
    # is never modified in place.
    assert torch.equal(head.queue, torch.stack(queues))
    loss.backward()
    head.flush()
    # FIFO: the 4 momentum features (normalised) now fill slots 0-3.
    assert torch.allclose(head.queue[1][:4], F.normalize(momentum[1], dim=-1))
    assert torch.equal(head.queue[0][4:], queues[0][4:])
    assert int(head.queue_ptr) == 4
    head.loss(feats, momentum)  # enqueues the first batch, then wraps
    head.flush()  # slots 4, 5, 0, 1
    assert int(head.queue_ptr) == 2
    assert torch.allclose(head.queue[0][4:], F.normalize(momentum[0],
                                                         dim=-1)[:2])


def test_temperature_is_learned_and_clamped():
    head = MODELS.build(
        dict(type='MICSConsistencyHead', feat_dim=8, queue_size=0,
             temperature=5.0))
    feats = [torch.randn(4, 8, requires_grad=True) for _ in range(2)]
    loss = head.loss(feats, [f.detach() for f in feats])
    assert float(head.temperature) == pytest.approx(0.5)
    loss.backward()
    assert head.temperature.grad is not None


def test_masked_resnet_mask_ratio_and_token():
    backbone = MODELS.build(
        dict(type='MaskedResNet', depth=18, mask_patch_size=8,
             mask_ratio=0.75))
    x = torch.randn(2, 3, 32, 32)
    feat, mask, ids = backbone(x, mask=True)
    assert ids is None and mask.shape == (2, 4, 4)
    assert mask.sum(dim=(1, 2)).tolist() == [12.0, 12.0]
    assert feat.shape == (2, 512, 1, 1)
    assert isinstance(backbone(x), tuple)
    with pytest.raises(ValueError, match='mask_patch_size'):
        backbone(torch.randn(1, 3, 36, 36), mask=True)
    # Every ResNet weight is present under the same name (+ mask_token).
    plain = MODELS.build(dict(type='ResNet', depth=18))
    assert set(plain.state_dict()) == set(backbone.state_dict()) - {
        'mask_token'
    }


def test_random_patch_mask_exact_count():
    mask = random_patch_mask(5, (4, 6), 0.5, torch.device('cpu'))
    assert mask.shape == (5, 4, 6)
    assert mask.sum(dim=(1, 2)).tolist() == [12.0] * 5
    assert not torch.equal(mask[0], mask[1])


def test_discriminator_shapes_and_spectral_scaling():
    disc = MODELS.build(
        dict(type='MICSL2AttnDiscriminator', in_channels=12, embed_dims=16,
             depth=2, num_heads=2, num_modalities=3))
    disc.init_weights()
    out = disc(torch.randn(5, 7, 12))
    assert out.shape == (5, 3)
    # The effective weight keeps its initial spectral norm.
    layer = disc.in_proj
    for _ in range(30):  # let power iteration converge
        layer(torch.randn(2, 12))
    w = layer.weight
    with torch.no_grad():
        v = F.normalize(w.t() @ layer.u, dim=0)
        sigma = torch.dot(layer.u, w @ v)
        eff = w * layer.sigma0 / sigma
    assert torch.linalg.matrix_norm(eff, ord=2) == pytest.approx(
        float(layer.sigma0), rel=1e-3)


def test_aligned_head_targets():
    head = MODELS.build(dict(type='MICSAlignedHead'))
    logits = torch.tensor([[3.0, -3.0], [-3.0, 3.0]])
    labels = torch.tensor([0, 1])
    # A discriminator that is right has low D loss and high G loss.
    assert head.disc_loss(logits, labels) < 0.01
    assert head.loss(logits, labels) > 5
    uni = MODELS.build(dict(type='MICSAlignedHead', gen_target='uniform'))
    assert uni.loss(torch.zeros(2, 2), labels) == pytest.approx(
        torch.log(torch.tensor(2.)).item())
    with pytest.raises(ValueError):
        MODELS.build(dict(type='MICSAlignedHead', gen_target='x'))


def test_data_preprocessor_per_modality_stats():
    pre = MODELS.build(
        dict(
            type='PerModalityDataPreprocessor',
            mean=dict(wli=[10., 20., 30.], nbi=[0., 0., 0.]),
            std=dict(wli=[1., 2., 3.], nbi=[1., 1., 1.]),
            to_rgb=False))
    x = torch.full((3, 2, 2), 60, dtype=torch.uint8)
    out = pre(dict(inputs=dict(wli=[x], nbi=[x]), data_samples=None))
    assert out['inputs']['wli'][0, :, 0, 0].tolist() == [50., 20., 10.]
    assert out['inputs']['nbi'][0, :, 0, 0].tolist() == [60., 60., 60.]
    with pytest.raises(KeyError, match='lci'):
        pre(dict(inputs=dict(lci=[x]), data_samples=None))
    rgb = MODELS.build(dict(type='PerModalityDataPreprocessor', to_rgb=True))
    y = torch.stack([torch.full((2, 2), v, dtype=torch.uint8)
                     for v in (1, 2, 3)])
    assert rgb(dict(inputs=dict(wli=[y])))['inputs']['wli'][0, :, 0,
                                                            0].tolist() == [
                                                                3., 2., 1.
                                                            ]


def decreased(values):
    """Mean of the last 3 steps at least 10 % below the first 3 (the random
    masks make single steps noisy by about +-5 %)."""
    return sum(values[-3:]) / 3 < 0.9 * sum(values[:3]) / 3


def run_steps(model, ow, data, steps, key):
    values = []
    for _ in range(steps):
        logs = model.train_step(copy.deepcopy(data), ow)
        values.append(float(logs[key]))
    return values


@pytest.mark.parametrize('term', ['loss_recon', 'loss_consistency'])
def test_each_loss_term_decreases(term):
    """~20 steps on one fixed batch, that term alone switched on."""
    kwargs = dict(discriminator=None)
    if term == 'loss_recon':
        kwargs.update(head=None)
    else:
        kwargs.update(recon_neck=None, recon_head=None)
    model = build(tiny_resnet_mics(**kwargs))
    data = batch(n=8)
    torch.manual_seed(0)
    values = run_steps(model, optim(model, lr=3e-3), data, 20, term)
    assert decreased(values), values


def test_adversarial_terms_each_decrease_for_their_player():
    """D alone learns to tell modalities apart; the encoder alone fools D."""
    model = build(tiny_resnet_mics(head=None, recon_neck=None,
                                   recon_head=None))
    data = batch(n=8)
    ow = optim(model)
    # Discriminator only: freeze the encoder's optimizer.
    ow['generator'].optimizer.param_groups[0]['lr'] = 0.0
    d_values = run_steps(model, ow, data, 20, 'loss_disc')
    assert decreased(d_values), d_values
    # Encoder only: freeze the discriminator, train the encoder.
    ow['generator'].optimizer.param_groups[0]['lr'] = 3e-3
    ow['discriminator'].optimizer.param_groups[0]['lr'] = 0.0
    g_values = run_steps(model, ow, data, 20, 'loss_aligned')
    assert decreased(g_values), g_values


def test_non_finite_loss_stops_before_update():
    model = build(tiny_resnet_mics())
    ow = optim(model)
    # Parameters are untouched (BN running stats of the failed forward are
    # not: the forward itself updates them before any loss exists).
    before = {
        k: v.clone()
        for k, v in model.named_parameters() if v.requires_grad
    }
    data = batch()
    data['inputs']['wli'] = [x.float() * float('nan')
                             for x in data['inputs']['wli']]
    with pytest.raises(FloatingPointError, match='loss'):
        model.train_step(data, ow)
    for k, v in before.items():
        assert torch.equal(dict(model.named_parameters())[k], v), k


def test_cross_modal_recon_targets_other_modality():
    model = build(tiny_resnet_mics(cross_modal_recon=True, head=None,
                                   discriminator=None))
    proc = model.data_preprocessor(batch(), True)
    seen = {}
    orig = model.recon_head.loss

    def spy(pred, target, mask):
        seen['target'] = target
        return orig(pred, target, mask)

    model.recon_head.loss = spy
    model(**proc, mode='loss')
    wli, nbi = proc['inputs']['wli'], proc['inputs']['nbi']
    assert torch.equal(seen['target'], torch.cat([nbi, wli]))


def test_momentum_encoder_follows_online_slowly():
    model = build(tiny_resnet_mics(recon_neck=None, recon_head=None,
                                   discriminator=None, momentum=0.5))
    ow = optim(model, lr=1e-2)
    model.train_step(batch(), ow)  # first call copies the online weights
    model.train_step(batch(), ow)
    online = dict(model.backbone.named_parameters())
    ema = dict(model.momentum_encoder.module[0].named_parameters())
    diffs = [(online[k] - ema[k]).abs().max() for k in online]
    assert max(diffs) > 0  # lagging behind
    assert all(not p.requires_grad for p in ema.values())
