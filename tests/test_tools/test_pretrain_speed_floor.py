"""The ``floor`` method of the vit-tiny group of
tools/benchmark/pretrain_speed.py (the MICS ViT step's floor) builds from
the MICS demo config and runs one tiny step (nothing is timed)."""
import copy
import importlib.util
import os.path as osp

import torch
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'pretrain_speed_tool',
        osp.join(ROOT, 'tools/benchmark/pretrain_speed.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vit_tiny_floor_builds_and_steps(tmp_path):
    tool = load_tool()
    assert 'floor' in tool.GROUPS['vit-tiny']['methods']
    assert tool.GROUPS['vit-tiny']['reference'] == 'simclr'
    args = tool.parse_args([
        '--backbone', 'vit-tiny', '--size', '16', '--batch', '2',
        '--methods', 'floor', '--out', str(tmp_path / 'x.json')
    ])
    assert args.methods == ['simclr', 'floor']  # the reference is added
    assert tool.images_per_sample('vit-tiny', 'floor') == 2
    DefaultScope.get_instance('test_pretrain_speed_floor',
                              scope_name='mics_mm')
    MessageHub.get_current_instance().update_info('max_iters', 10)
    torch.manual_seed(0)
    model, optim = tool.build(args, 'floor', 16)
    assert isinstance(model, tool.FloorViT)
    # the MICS demo's encoder (MAEViT, 25 % of the tokens kept), neck and
    # momentum encoder; no decoder, head or discriminator
    assert type(model.backbone).__name__ == 'MAEViT'
    assert model.backbone.mask_ratio == 0.75
    assert model.backbone.embed_dims == 192
    assert not any(
        hasattr(model, k)
        for k in ('recon_neck', 'head', 'discriminator'))
    # the encoder's optimizer (AdamW), no discriminator wrapper
    assert type(optim.optimizer).__name__ == 'AdamW'
    data = tool.fake_batch(args, 'floor', 16, 2)
    assert set(data['inputs']) == {'wli', 'nbi'}
    before = model.backbone.patch_embed.projection.weight.detach().clone()
    m_before = [
        p.detach().clone() for p in model.momentum_encoder.parameters()
    ]
    out = model.train_step(copy.copy(data), optim)
    assert torch.isfinite(out['loss'])
    assert not torch.equal(before,
                           model.backbone.patch_embed.projection.weight)
    # a second step moves the momentum encoder (the first one copies)
    model.train_step(copy.copy(data), optim)
    assert any(not torch.equal(a, b) for a, b in zip(
        m_before, model.momentum_encoder.parameters()))
    assert tool.time_steps(model, optim, data, 1, 'cpu') > 0


def test_markdown_reports_mics_over_floor():
    tool = load_tool()
    result = dict(
        reference='simclr', size=64, batch=16, device='cpu', machine='m',
        torch='t', torch_threads=1, amp=False, clock='cpu', targets={},
        methods=dict(
            mics=dict(s_per_iter=1.8, ratio=1.8, ratio_per_round=[1.8, 1.9],
                      images_per_s=1.0)),
        mics_over_floor=dict(ratio=1.15, ratio_per_round=[1.1, 1.2]))
    table = tool.markdown(result, 'cmd')
    assert 'MICS / floor: **1.15**' in table and '1.10-1.20' in table
