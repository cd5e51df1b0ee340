"""Lazy AdamW on the BrainMVP templates (BrainMVPSparseTemplateAdamW): exact dense
AdamW inside the touched region, nothing outside, AdamW's state layout."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mics_mm  # noqa: F401  (registers)
from mics_mm.engine.optimizers import (BrainMVPSparseTemplateAdamW,
                                       BrainMVPTemplateOptimWrapperConstructor)
from mics_mm.models.utils.modality_templates import (BrainMVPModalityTemplates,
                                                     crop_templates)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CANVAS = (12, 10, 9)
SIZE = (4, 4, 4)
# the same two crops every step: template 1 at two places, template 3 once
MODALITY = torch.tensor([1, 1, 3])
OFFSET = torch.tensor([[1, 2, 0], [3, 3, 2], [6, 5, 4]])


@pytest.fixture(autouse=True)
def scope():
    DefaultScope.get_instance('test_sparse_template_update',
                              scope_name='mics_mm')


def _reference_crop(templates, modality, offset, size):
    """The plain-autograd crop (the implementation before the one-pass
    backward): gather, min-max over whole templates, padding 0."""
    canvas = templates.shape[1:]
    used, inverse = torch.unique(modality, return_inverse=True)
    flat = templates[used].flatten(1)
    low = flat.min(dim=1).values
    span = (flat.max(dim=1).values - low).clamp_min(1e-6)
    n, k = offset.shape
    index, valid = [modality.view(n, *([1] * k))], None
    for axis, (extent, limit) in enumerate(zip(size, canvas)):
        coords = offset[:, axis:axis + 1] + torch.arange(extent)
        inside = (coords >= 0) & (coords < limit)
        shape = [n] + [1] * k
        shape[axis + 1] = extent
        index.append(coords.clamp(0, limit - 1).view(shape))
        valid = inside.view(shape) if valid is None else \
            valid & inside.view(shape)
    crops = templates[tuple(index)]
    shape = [n] + [1] * k
    crops = (crops - low[inverse].view(shape)) / span[inverse].view(shape)
    return crops * valid


def test_one_pass_backward_matches_autograd():
    torch.manual_seed(0)
    raw = torch.randn(5, *CANVAS)
    offset = torch.tensor([[1, 2, 0], [-2, 8, 7], [6, 5, 4]])  # + padding
    weight = torch.randn(3, *SIZE)
    a = raw.clone().requires_grad_()
    b = raw.clone().requires_grad_()
    ca = crop_templates(a, MODALITY, offset, SIZE)
    cb = _reference_crop(b, MODALITY, offset, SIZE)
    assert torch.allclose(ca, cb, atol=1e-6)
    (ca * weight).sum().backward()
    (cb * weight).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-5)
    # the argmin / argmax voxels get gradient from the normalisation
    for m in (1, 3):
        flat = a.grad[m].flatten()
        assert flat[raw[m].flatten().argmin()] != 0
        assert flat[raw[m].flatten().argmax()] != 0


def _train(optimizer_cls, steps=4, init=None, **kw):
    torch.manual_seed(0)
    module = BrainMVPModalityTemplates(num_modalities=5, canvas=CANVAS)
    with torch.no_grad():
        module.templates.copy_(init)
    opt = optimizer_cls(module.parameters(), lr=0.05, weight_decay=0.1, **kw)
    if isinstance(opt, BrainMVPSparseTemplateAdamW):
        opt.attach(module.templates, module)
    weight = torch.randn(3, *SIZE, generator=torch.Generator().manual_seed(1))
    for _ in range(steps):
        crops = module.crop(MODALITY, OFFSET, SIZE)
        ((crops - weight)**2).mean().backward()
        opt.step()
        opt.zero_grad()
    return module, opt


def _touched_mask(init):
    """The region the update covers: per template the union box of its
    crops (the same every step here); the extremes are added by the test."""
    mask = torch.zeros(5, *CANVAS, dtype=torch.bool)
    for m in MODALITY.unique().tolist():
        offs = OFFSET[MODALITY == m]
        lo = offs.min(0).values.tolist()
        hi = (offs + torch.tensor(SIZE)).max(0).values.tolist()
        mask[(m, ) + tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return mask


@pytest.mark.parametrize('amsgrad', [False, True])
def test_sparse_equals_dense_inside_untouched_unchanged(amsgrad):
    init = torch.randn(5, *CANVAS, generator=torch.Generator().manual_seed(2))
    # keep each template's extremes fixed over the steps (far outside the
    # range the crops move in), so that the region is the same every step
    for m in range(5):
        init[m].view(-1)[7] = -50.0
        init[m].view(-1)[-3] = 50.0
    dense, _ = _train(torch.optim.AdamW, init=init, amsgrad=amsgrad)
    sparse, opt = _train(BrainMVPSparseTemplateAdamW, init=init, amsgrad=amsgrad)
    mask = _touched_mask(init)
    for m in (1, 3):
        mask[m].view(-1)[7] = True
        mask[m].view(-1)[-3] = True
    d, s = dense.templates.detach(), sparse.templates.detach()
    assert torch.allclose(s[mask], d[mask], atol=1e-6, rtol=0)
    assert not torch.equal(s[mask], init[mask])  # it did train
    assert torch.equal(s[~mask], init[~mask])  # untouched: unchanged
    # dense AdamW moves (decays) them: the documented difference
    assert not torch.equal(d[~mask], init[~mask])
    st = opt.state[sparse.templates]
    assert float(st['step']) == 4
    assert sparse.touched() is None  # cleared by the step


def test_state_dict_round_trip_and_dense_interchange():
    init = torch.randn(5, *CANVAS, generator=torch.Generator().manual_seed(3))
    sparse, opt = _train(BrainMVPSparseTemplateAdamW, steps=2, init=init)
    state = copy.deepcopy(opt.state_dict())
    assert set(state['state'][0]) == {'step', 'exp_avg', 'exp_avg_sq'}
    # resume: a fresh optimizer on a copy continues exactly as the original
    twin = copy.deepcopy(sparse)
    opt2 = BrainMVPSparseTemplateAdamW(twin.parameters(), lr=0.05, weight_decay=0.1)
    opt2.attach(twin.templates, twin)
    opt2.load_state_dict(state)
    # a dense AdamW reads the same state (checkpoints are interchangeable)
    dense = torch.optim.AdamW(copy.deepcopy(sparse).parameters(), lr=0.05,
                              weight_decay=0.1)
    dense.load_state_dict(state)
    assert torch.equal(dense.state_dict()['state'][0]['exp_avg'],
                       state['state'][0]['exp_avg'])
    weight = torch.randn(3, *SIZE)
    for module, o in ((sparse, opt), (twin, opt2)):
        ((module.crop(MODALITY, OFFSET, SIZE) - weight)**2).mean().backward()
        o.step()
        o.zero_grad()
    assert torch.equal(sparse.templates, twin.templates)
    assert torch.equal(opt.state[sparse.templates]['exp_avg'],
                       opt2.state[twin.templates]['exp_avg'])


def test_other_parameters_get_plain_adamw():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    twin = copy.deepcopy(lin)
    module = BrainMVPModalityTemplates(num_modalities=5, canvas=CANVAS)
    a = BrainMVPSparseTemplateAdamW(list(lin.parameters()) + [module.templates],
                            lr=0.1, weight_decay=0.01)
    a.attach(module.templates, module)
    b = torch.optim.AdamW(twin.parameters(), lr=0.1, weight_decay=0.01)
    x = torch.randn(6, 4)
    for _ in range(3):
        loss = lin(x).square().mean() + module.crop(MODALITY, OFFSET,
                                                    SIZE).sum()
        loss.backward()
        twin(x).square().mean().backward()
        a.step()
        b.step()
        a.zero_grad()
        b.zero_grad()
    for p, q in zip(lin.parameters(), twin.parameters()):
        assert torch.allclose(p, q, atol=1e-7)


def test_no_record_falls_back_to_dense():
    module = BrainMVPModalityTemplates(num_modalities=2, canvas=(4, 4, 4))
    opt = BrainMVPSparseTemplateAdamW(module.parameters(), lr=0.1, weight_decay=0.0)
    opt.attach(module.templates, module)
    module.templates.grad = torch.ones_like(module.templates)
    opt.step()
    assert (module.templates != 0).all()


def _config_wrapper(**over):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/brainmvp/'
                 'brainmvp_uniformer-s_8xb2-coslr-1500e_brats-96px.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.arch = 'tiny'
    model_cfg.neck.update(in_channels=128, hid_channels=64, out_channels=32)
    model_cfg.recon_neck.update(in_channels=128, channels=(16, 8, 8, 8, 8))
    model_cfg.templates.canvas = (40, 40, 40)
    from mics_mm.registry import MODELS
    model = MODELS.build(model_cfg)
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.update(over)
    return model, build_optim_wrapper(model, optim_cfg)


def test_config_default_is_sparse_and_option_gives_dense():
    model, wrapper = _config_wrapper()
    opt = wrapper.optimizer
    assert isinstance(opt, BrainMVPSparseTemplateAdamW)
    assert opt.attached[0] is model.templates.templates
    assert opt.param_groups[0]['lr'] == 3e-4
    _, dense = _config_wrapper(sparse_templates=False)
    assert type(dense.optimizer) is torch.optim.AdamW
    with pytest.raises(ValueError, match='sparse_templates=False'):
        _config_wrapper(optimizer=dict(type='SGD', lr=0.1))
    assert BrainMVPTemplateOptimWrapperConstructor  # registered, importable


def test_benchmark_step_record_and_update_brainmvp():
    """A BrainMVP train step through the config's wrapper updates the
    templates only inside the crops' boxes and the extremes."""
    from mmpretrain.structures import DataSample
    model, wrapper = _config_wrapper()
    model.train()
    before = model.templates.templates.detach().clone()
    samples = [
        DataSample(metainfo=dict(
            modalities=('flair', 't1'), canvas_offset=(2, 3, 4),
            canvas_shape=(40, 40, 40))) for _ in range(2)
    ]
    x = torch.rand(2, 2, 32, 32, 32)
    model.train_step(dict(inputs=x, data_samples=samples), wrapper)
    after = model.templates.templates.detach()
    changed = (after != before)
    assert changed.any()
    outside = changed.clone()
    outside[:, 2:34, 3:35, 4:36] = False
    # zero-initialised templates: argmin = argmax = voxel 0 of each
    # template in use
    outside.view(8, -1)[:, 0] = False
    assert not outside.any()
    assert model.templates.touched() is None


def test_spare_gradient_is_zeroed_and_reused():
    init = torch.randn(5, *CANVAS, generator=torch.Generator().manual_seed(4))
    module, opt = _train(BrainMVPSparseTemplateAdamW, steps=1, init=init)
    spare = module._spare_grad
    assert spare is not None and not spare.any()
    ptr = spare.data_ptr()
    del spare  # (a reference held here would make autograd copy it)
    module.crop(MODALITY, OFFSET, SIZE).sum().backward()
    assert module.templates.grad.data_ptr() == ptr  # no new canvas tensor
    assert module._spare_grad is None
    # a copy of the module does not copy the spare
    opt.step()
    opt.zero_grad()
    assert copy.deepcopy(module)._spare_grad is None


class _Crop(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.t = BrainMVPModalityTemplates(num_modalities=5, canvas=CANVAS)

    def forward(self, modality, offset):
        return self.t.crop(modality, offset, SIZE)


def _ddp_worker(rank, path, out):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group('gloo', init_method=f'file://{path}', rank=rank,
                            world_size=2)
    torch.manual_seed(0)
    model = _Crop()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(5)
        model.t.templates.copy_(torch.randn(5, *CANVAS, generator=gen))
    ddp = DistributedDataParallel(model)
    opt = BrainMVPSparseTemplateAdamW(model.parameters(), lr=0.05, weight_decay=0.1)
    opt.attach(model.t.templates, model.t)
    # each rank crops elsewhere (rank 1 also another template)
    modality = torch.tensor([1]) if rank == 0 else torch.tensor([3])
    offset = torch.tensor([[0, 0, 0]]) if rank == 0 else torch.tensor(
        [[6, 5, 4]])
    for _ in range(2):
        ddp(modality, offset).square().mean().backward()
        opt.step()
        opt.zero_grad()
    torch.save(model.t.templates.detach(), f'{out}_{rank}.pt')
    dist.destroy_process_group()


@pytest.mark.slow
def test_ranks_update_the_union_and_stay_identical(tmp_path):
    import torch.multiprocessing as mp
    out = str(tmp_path / 'templates')
    mp.spawn(_ddp_worker, args=(str(tmp_path / 'init'), out), nprocs=2)
    t0, t1 = (torch.load(f'{out}_{r}.pt') for r in (0, 1))
    assert torch.equal(t0, t1)
    init = torch.randn(5, *CANVAS, generator=torch.Generator().manual_seed(5))
    # both ranks' crops were updated on rank 0
    assert not torch.equal(t0[1, :4, :4, :4], init[1, :4, :4, :4])
    assert not torch.equal(t0[3, 6:10, 5:9, 4:8], init[3, 6:10, 5:9, 4:8])


def _brainmvp_batch():
    from mmpretrain.structures import DataSample
    samples = [
        DataSample(metainfo=dict(
            modalities=('flair', 't1'), canvas_offset=(2, 3, 4),
            canvas_shape=(40, 40, 40))) for _ in range(2)
    ]
    x = torch.rand(2, 2, 32, 32, 32,
                   generator=torch.Generator().manual_seed(0))
    return dict(inputs=x, data_samples=samples)


def test_checkpoint_resume_continues_like_uninterrupted(tmp_path):
    """What a checkpoint holds (model and optim_wrapper state dicts),
    saved after 2 steps and loaded into a fresh model and wrapper, gives
    the same third step as the run that went on."""
    torch.manual_seed(0)
    model, wrapper = _config_wrapper()
    model.train()
    for i in range(2):
        torch.manual_seed(i)
        model.train_step(_brainmvp_batch(), wrapper)
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    optimizer=wrapper.state_dict()), path)
    torch.manual_seed(1)
    fresh, fresh_wrapper = _config_wrapper()
    ckpt = torch.load(path, weights_only=False)
    fresh.load_state_dict(ckpt['state_dict'])
    fresh_wrapper.load_state_dict(ckpt['optimizer'])
    fresh.train()
    state = fresh_wrapper.optimizer.state[fresh.templates.templates]
    assert float(state['step']) == 2
    for m, w in ((model, wrapper), (fresh, fresh_wrapper)):
        torch.manual_seed(2)
        m.train_step(_brainmvp_batch(), w)
    for (name, a), b in zip(model.state_dict().items(),
                            fresh.state_dict().values()):
        assert torch.equal(a, b), name
