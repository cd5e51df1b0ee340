"""The evaluation-protocol configs of the full-size encoders: a linear
probe and a kNN config for MICS ResNet-50 / ViT-B/16 and for each
baseline encoder (SimCLR, MoCo v3, BYOL ResNet-50; MoCo v3, MAE ViT-B/16),
and the online kNN monitor snippets.

Each pre-trained encoder's ``backbone.`` weights load, with no weight
missing, into the encoders of its linear-probe config (what
``--cfg-options model.pretrained=CKPT`` does)."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mics_mm.registry import HOOKS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MICS_BENCH = 'configs/mics/benchmarks'
BASE_BENCH = 'configs/baselines/benchmarks'
# encoder: (pre-training config, linear-probe config, kNN config, px)
ENCODERS = {
    'mics_resnet50': (
        'configs/mics/mics_resnet50_8xb32-coslr-100e_kvasir-224px.py',
        f'{MICS_BENCH}/resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py',
        f'{MICS_BENCH}/resnet50_mics-pre_knn-k20_kvasir-224px.py', 224),
    'mics_vit-base': (
        'configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py',
        f'{MICS_BENCH}/vit-base-p16_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-384px.py',
        f'{MICS_BENCH}/vit-base-p16_mics-pre_knn-k20_kvasir-384px.py', 384),
    **{
        f'{m}_resnet50': (
            f'configs/baselines/{m}_resnet50_8xb32-coslr-100e_kvasir-224px.py',
            f'{BASE_BENCH}/resnet50_{m}-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py',
            f'{BASE_BENCH}/resnet50_{m}-pre_knn-k20_kvasir-224px.py', 224)
        for m in ('simclr', 'mocov3', 'byol')
    },
    **{
        f'{m}_vit-base': (
            f'configs/baselines/{m}_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py',
            f'{BASE_BENCH}/vit-base-p16_{m}-pre_8xb32-linear-coslr-1000it_kvasir-10pct-384px.py',
            f'{BASE_BENCH}/vit-base-p16_{m}-pre_knn-k20_kvasir-384px.py', 384)
        for m in ('mocov3', 'mae')
    },
}


def cfg_of(path):
    return Config.fromfile(osp.join(ROOT, path))


def test_every_protocol_config_exists_and_says_how_to_use_it():
    for name, (pre, linear, knn, _) in ENCODERS.items():
        for path in (pre, linear, knn):
            assert osp.isfile(osp.join(ROOT, path)), (name, path)
        text = open(osp.join(ROOT, linear)).read()
        work = osp.splitext(osp.basename(pre))[0]
        assert f'model.pretrained=work_dirs/{work}/epoch_100.pth' in text
        assert 'tools/analysis/recipe_report.py' in text
        assert '1,000 optimizer steps' in text and '--num-images 280' in text
        text = open(osp.join(ROOT, knn)).read()
        assert 'python tools/analysis/knn_eval.py' in text
        assert osp.basename(knn) in text and f'work_dirs/{work}/' in text


@pytest.mark.parametrize('name', sorted(ENCODERS))
def test_linear_probe_protocol(name):
    """Frozen encoders, a linear classifier on the concatenated pooled
    features, no distribution-shift head (no lambda ramp), AdamW 1e-3
    without weight decay, the 1,000-iteration schedule of 8 x 32."""
    pre, linear, _, px = ENCODERS[name]
    cfg = cfg_of(linear)
    model = cfg.model
    assert model.type == 'MICSMultiModalClassifier'
    assert model.freeze_encoders is True and model.modality_dropout == 0.0
    width = 2048 if 'resnet50' in name else 768
    assert model.neck == dict(type='MICSFusionNeck', mode='concat',
                              in_channels=width)
    assert model.head.type == 'LinearClsHead'
    assert model.head.in_channels == 2 * width
    assert model.get('pretrained') is None  # the user's checkpoint
    assert [h['type'] for h in cfg.custom_hooks] == ['RandomStateHook']
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == (
        'AdamW', 1e-3, 0.0)
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=1000,
                                 val_interval=100)
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.img_size == px
    assert cfg.train_dataloader.dataset.ann_file == \
        'splits/train_labeled_10pct.json'
    assert cfg.find_unused_parameters is False
    if '/baselines/' in linear:
        # exactly the MICS linear probe of that backbone: only the encoder
        # differs
        mics = ENCODERS['mics_' + name.split('_', 1)[1]][1]
        assert cfg._cfg_dict.to_dict() == cfg_of(mics)._cfg_dict.to_dict()


@pytest.mark.parametrize('name', sorted(ENCODERS))
def test_knn_config(name):
    pre, _, knn, px = ENCODERS[name]
    cfg = cfg_of(knn)
    assert cfg.knn_eval == dict(
        k=20, temperature=0.07, train_split='splits/train.json',
        test_split='splits/test.json', batch_size=64, modality='wli')
    # the pre-training config's model and size, unchanged
    base = cfg_of(pre)
    assert cfg.model.to_dict() == base.model.to_dict()
    assert cfg.img_size == base.img_size == px
    # tools/analysis/knn_eval.py accepts every key
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'knn_eval_tool', osp.join(ROOT, 'tools/analysis/knn_eval.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert set(cfg.knn_eval) <= set(tool.DEFAULTS)


def _encoder_weights(pre_cfg):
    """The ``backbone.`` weights a pre-training checkpoint of the config
    holds: its model's backbone, built."""
    backbone = pre_cfg.model.backbone.copy()
    backbone.pop('init_cfg', None)
    return MODELS.build(backbone).state_dict()


@pytest.mark.parametrize('name', sorted(ENCODERS))
def test_encoder_loads_into_its_linear_probe(name):
    """What MICSMultiModalClassifier.load_pretrained copies into each
    modality's encoder: every weight of the linear config's backbone is in
    the pre-trained encoder, with its shape (MICS' MaskedResNet adds
    mask_token only)."""
    pre, linear, _, _ = ENCODERS[name]
    init_default_scope('mics_mm')
    torch.manual_seed(0)
    weights = _encoder_weights(cfg_of(pre))
    target_cfg = cfg_of(linear).model.backbone.copy()
    target = MODELS.build(target_cfg).state_dict()
    missing = sorted(set(target) - set(weights))
    assert not missing, missing[:5]
    extra = sorted(set(weights) - set(target))
    assert set(extra) <= {'mask_token'}, extra[:5]
    wrong = [k for k in target if target[k].shape != weights[k].shape]
    assert not wrong, wrong[:5]


def test_checkpoint_loads_through_model_pretrained(tmp_path):
    """A SimCLR ResNet-50 checkpoint through the linear probe's
    ``model.pretrained``: both encoders get its weights and stay frozen."""
    init_default_scope('mics_mm')
    torch.manual_seed(0)
    pre, linear, _, _ = ENCODERS['simclr_resnet50']
    weights = _encoder_weights(cfg_of(pre))
    ckpt = tmp_path / 'simclr.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in weights.items()}), ckpt)
    cfg = cfg_of(linear)
    cfg.model.pretrained = str(ckpt)
    model = MODELS.build(cfg.model)
    model.init_weights()
    for m in ('wli', 'nbi'):
        encoder = model.backbones[m]
        assert torch.equal(encoder.conv1.weight, weights['conv1.weight'])
        assert not any(p.requires_grad for p in encoder.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    model.train()
    assert not model.backbones['wli'].training  # BN statistics frozen


# --------------------------------------------------------------------------
# online kNN monitor
# --------------------------------------------------------------------------
SNIPPETS = {
    'configs/_base_/knn_monitor.py': ('data/kvasir/', 224, 10),
    'configs/_base_/knn_monitor-384px.py': ('data/kvasir/', 384, 10),
    'configs/_base_/knn_monitor_demo-64px.py':
    ('data/kvasir_demo_synthetic/', 64, 5),
}


@pytest.mark.parametrize('path', sorted(SNIPPETS))
def test_knn_monitor_snippets_build_the_hook(path):
    root, px, interval = SNIPPETS[path]
    hook_cfg = cfg_of(path).knn_monitor.to_dict()
    assert hook_cfg['interval'] == interval
    assert (hook_cfg['k'], hook_cfg['temperature']) == (20, 0.07)
    splits = []
    for loader in ('train_dataloader', 'val_dataloader'):
        ds = hook_cfg[loader]['dataset']
        assert ds['data_root'] == root and ds['test_mode'] is True
        resize = ds['pipeline'][2]['transforms'][0]
        assert resize == dict(type='Resize', scale=(px, px))
        splits.append(ds['ann_file'])
    assert splits == ['splits/train.json', 'splits/val.json']
    hook = HOOKS.build(hook_cfg)  # the loaders are built lazily
    assert (hook.interval, hook.k, hook.modality) == (interval, 20, 'wli')


FULL_SIZE_PRETRAIN = [
    p for p, *_ in ENCODERS.values()
] + ['configs/baselines/mae_vit-base-p16_8xb32-coslr-100e_kvasir-wli-384px.py']


@pytest.mark.parametrize('path', FULL_SIZE_PRETRAIN, ids=osp.basename)
def test_full_size_pretraining_configs_say_how_to_monitor(path):
    text = open(osp.join(ROOT, path)).read()
    snippet = 'knn_monitor-384px.py' if '384px' in path else 'knn_monitor.py'
    assert f"'../_base_/{snippet}'" in text
    assert 'custom_hooks = _base_.custom_hooks + [_base_.knn_monitor]' in \
        re.sub(r'\n#\s*', ' ', text)
    # and it is off
    assert not any(h['type'] == 'KNNMonitorHook'
                   for h in cfg_of(path).get('custom_hooks', []))


def test_the_demo_monitor_config_adds_the_hook_to_the_demo_hooks():
    demo = cfg_of('configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py')
    cfg = cfg_of(
        'configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-knn-64px.py')
    hooks = cfg.custom_hooks
    assert hooks[:-1] == demo.custom_hooks
    assert hooks[-1] == cfg_of(
        'configs/_base_/knn_monitor_demo-64px.py').knn_monitor
