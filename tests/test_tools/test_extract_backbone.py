"""tools/model_converters/extract_backbone.py: the encoder of a real (tiny,
untrained) checkpoint of each model, built from the demo configs, loads
strictly into the downstream backbone; bad inputs are refused by name."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import initialize
from mmengine.registry import DefaultScope

from mics_mm.apis.export import (BackboneExportError, backbone_parts,
                                 export_backbone, extract_backbone,
                                 mmpretrain_to_timm)
from mics_mm.registry import MODELS
from mics_mm.utils.checkpoint_io import read_checkpoint

REPO = Path(__file__).resolve().parents[2]
CONFIGS = dict(
    mics_r18='configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
    mics_vit='configs/mics/'
    'mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py',
    finetune='configs/mics/finetune_kvasir_demo.py',
    brainmvp_2d='configs/brainmvp/'
    'brainmvp_resnet18_1xb16-coslr-20e_brain-demo-2d-96px.py',
    brainmvp_3d='configs/brainmvp/'
    'brainmvp_uniformer-tiny_1xb2-coslr-8e_brain-demo-3d-32px.py',
    simclr='configs/baselines/'
    'simclr_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
    byol='configs/baselines/byol_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
    mocov3='configs/baselines/'
    'mocov3_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
    mae='configs/baselines/'
    'mae_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py',
)
SEG_2D = ('configs/brainmvp/benchmarks/'
          'upernet_resnet18_1xb8-300it_brain-demo-96px.py')
SEG_3D = ('configs/brainmvp/benchmarks/'
          'uniformer-tiny_unetr_1xb2-adam-40it_brain-demo-3d-32px.py')
VIT_FT = ('configs/mics/benchmarks/'
          'vit-tiny-p8_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'mics_tools_extract_backbone',
        REPO / 'tools' / 'model_converters' / 'extract_backbone.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cfg_model(name_or_path):
    return Config.fromfile(str(REPO / CONFIGS.get(name_or_path,
                                                  name_or_path))).model


def build(cfg):
    with DefaultScope.overwrite_default_scope('mics_mm'):
        return MODELS.build(cfg)


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    """Builds each demo model once (seeded) and saves a checkpoint of it as
    mmengine's CheckpointHook lays it out; returns (path, state dict)."""
    root = tmp_path_factory.mktemp('ckpts')
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            model = build(cfg_model(name))
            state = model.state_dict()
            # the EMA copies are equal to the online encoder at build time:
            # make them differ, so that taking the wrong one shows
            for key in state:
                if key.startswith(('momentum_encoder.module.',
                                   'target_net.module.')) and \
                        state[key].is_floating_point():
                    state[key] = state[key] + 1.0
            path = root / f'{name}.pth'
            torch.save({'meta': dict(epoch=3, iter=30), 'state_dict': state},
                       path)
            cache[name] = (path, state)
        return cache[name]

    return get


def sub(state, prefix):
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def assert_same(module, weights):
    own = module.state_dict()
    assert set(own) == set(weights)
    for key, value in own.items():
        assert torch.equal(value, weights[key]), key


def export(tmp_path, ckpt, *args, name='out.pth'):
    out = tmp_path / name
    assert tool.main([str(ckpt), str(out), *args]) == 0
    saved = read_checkpoint(str(out))  # weights_only=True
    assert set(saved) == {'state_dict', 'meta'}
    return saved['state_dict'], saved['meta']


# ------------------------------------------------------ (a) MICS ResNet-18
def test_mics_demo_backbone_loads_strictly_into_resnet18(ckpts, tmp_path,
                                                         capsys):
    path, state = ckpts('mics_r18')
    weights, meta = export(tmp_path, path)
    assert meta['part'] == 'backbone' and meta['prefix'] == 'backbone.'
    assert meta['dropped'] == ['mask_token']  # MaskedResNet's, pre-training
    assert meta['source'] == str(path) and meta['source_epoch'] == 3
    assert meta['parts'] == ['backbone', 'momentum']
    assert 'left out' in capsys.readouterr().out
    resnet = build(dict(type='ResNet', depth=18))
    resnet.load_state_dict(weights, strict=True)
    expected = sub(state, 'backbone.')
    del expected['mask_token']
    assert_same(resnet, expected)
    # the documented use: an init_cfg with no prefix
    fresh = build(dict(type='ResNet', depth=18, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'out.pth'))))
    fresh.init_weights()
    assert_same(fresh, expected)
    # no temporary file is left next to the output
    assert sorted(os.listdir(tmp_path)) == ['out.pth']


def test_mics_momentum_encoder_part(ckpts, tmp_path):
    path, state = ckpts('mics_r18')
    weights, meta = export(tmp_path, path, '--part', 'momentum')
    assert meta['prefix'] == 'momentum_encoder.module.0.'
    resnet = build(dict(type='ResNet', depth=18))
    resnet.load_state_dict(weights, strict=True)
    assert torch.equal(resnet.conv1.weight,
                       state['momentum_encoder.module.0.conv1.weight'])


# -------------------------------------------------------- (b) MICS ViT
def test_mics_vit_loads_strictly_into_vit_tiny(ckpts, tmp_path):
    path, state = ckpts('mics_vit')
    weights, meta = export(tmp_path, path)
    assert meta['dropped'] == []  # MAEViT's keys are VisionTransformer's
    vit_cfg = cfg_model(VIT_FT).backbone  # the fine-tuning encoder
    assert vit_cfg.type == 'VisionTransformer'
    vit = build(vit_cfg)
    vit.load_state_dict(weights, strict=True)
    assert_same(vit, sub(state, 'backbone.'))
    # another input size: mmpretrain resizes pos_embed while loading
    vit96 = build(dict(vit_cfg, img_size=96))
    vit96.load_state_dict(weights, strict=True)
    assert vit96.pos_embed.shape[1] == 1 + 12 * 12


# ------------------------------------- fine-tuned multimodal classifier
def test_finetuned_classifier_modality_parts(ckpts, tmp_path):
    path, state = ckpts('finetune')
    with pytest.raises(SystemExit, match=r'several encoders.*wli.*nbi'):
        tool.main([str(path), str(tmp_path / 'x.pth')])
    with pytest.raises(SystemExit) as err:
        tool.main([str(path), str(tmp_path / 'x.pth'), '--part', 'flair'])
    assert "no part 'flair'" in str(err.value)
    assert 'wli (backbones.wli.*), nbi (backbones.nbi.*)' in str(err.value)
    assert not (tmp_path / 'x.pth').exists()
    for modality in ('wli', 'nbi'):
        weights, meta = export(tmp_path, path, '--part', modality,
                               name=f'{modality}.pth')
        resnet = build(dict(type='ResNet', depth=18))
        resnet.load_state_dict(weights, strict=True)
        assert_same(resnet, sub(state, f'backbones.{modality}.'))


# --------------------------------------- (c) BrainMVP 2D -> mmseg backbone
def test_brainmvp_2d_into_the_mmseg_config_backbone(ckpts, tmp_path):
    import mics_mm.seg  # noqa: F401  (registers into mmseg's registries)
    from mmseg.registry import MODELS as SEG_MODELS
    path, state = ckpts('brainmvp_2d')
    weights, meta = export(tmp_path, path)
    assert weights['conv1.weight'].shape[1] == 1  # one modality per view
    seg_cfg = Config.fromfile(str(REPO / SEG_2D)).model.backbone
    assert seg_cfg.in_channels == 4  # the modalities as input channels
    with DefaultScope.overwrite_default_scope('mmseg'):
        four = SEG_MODELS.build(seg_cfg)
        one = SEG_MODELS.build(dict(seg_cfg, in_channels=1))
    # strictly: only into the same input channels; 4 channels differ at
    # the stem kernel alone
    one.load_state_dict(weights, strict=True)
    assert_same(one, sub(state, 'backbone.'))
    with pytest.raises(RuntimeError, match='conv1.weight') as err:
        four.load_state_dict(weights, strict=True)
    assert 'Missing' not in str(err.value) and \
        'Unexpected' not in str(err.value)
    # InflatedPretrained (as the brainmvp-pre config uses it, no prefix for
    # an extracted file) spreads the stem over the 4 channels
    with DefaultScope.overwrite_default_scope('mics_mm'):
        initialize(four, dict(type='InflatedPretrained',
                              checkpoint=str(tmp_path / 'out.pth')))
    for key, value in four.state_dict().items():
        want = weights[key]
        if key == 'conv1.weight':
            want = want.repeat(1, 4, 1, 1) / 4
        assert torch.equal(value, want), key


# --------------------------------------------- (d) BrainMVP 3D UniFormer3D
def test_brainmvp_3d_into_uniformer3d(ckpts, tmp_path):
    path, state = ckpts('brainmvp_3d')
    weights, meta = export(tmp_path, path)
    pre_cfg = cfg_model('brainmvp_3d').backbone
    assert pre_cfg.type == 'UniFormer3D'
    uni = build(pre_cfg)
    uni.load_state_dict(weights, strict=True)
    assert_same(uni, sub(state, 'backbone.'))
    # the 3D segmentation config's encoder, at the pre-training channels
    seg = build(dict(Config.fromfile(str(REPO / SEG_3D)).model.backbone,
                     in_channels=1))
    seg.load_state_dict(weights, strict=True)
    with pytest.raises(BackboneExportError, match='UniFormer3D'):
        mmpretrain_to_timm(weights)


# ------------------------------------------------------- (e) baselines
@pytest.mark.parametrize('name', ['simclr', 'byol', 'mocov3', 'mae'])
def test_baseline_backbones(ckpts, tmp_path, name):
    path, state = ckpts(name)
    weights, meta = export(tmp_path, path)
    assert meta['part'] == 'backbone'
    if name == 'mae':
        target = build(cfg_model(VIT_FT).backbone)
    else:
        target = build(dict(type='ResNet', depth=18))
    target.load_state_dict(weights, strict=True)
    assert_same(target, sub(state, 'backbone.'))  # the online encoder
    if name in ('byol', 'mocov3'):
        ema = 'target_net' if name == 'byol' else 'momentum_encoder'
        assert meta['parts'] == ['backbone', 'momentum']
        weights, meta = export(tmp_path, path, '--part', 'momentum',
                               name='ema.pth')
        assert meta['prefix'] == f'{ema}.module.0.'
        target.load_state_dict(weights, strict=True)
        assert_same(target, sub(state, f'{ema}.module.0.'))


# ---------------------------------------------------------- refusals
def test_refuses_to_overwrite(ckpts, tmp_path):
    path, _ = ckpts('simclr')
    out = tmp_path / 'mine.pth'
    out.write_bytes(b'the user\'s file')
    with pytest.raises(SystemExit, match='exists; add --force'):
        tool.main([str(path), str(out)])
    assert out.read_bytes() == b'the user\'s file'
    with pytest.raises(SystemExit, match='source checkpoint'):
        tool.main([str(path), str(path), '--force'])
    assert tool.main([str(path), str(out), '--force']) == 0
    assert read_checkpoint(str(out))['meta']['part'] == 'backbone'


def test_rejects_what_is_not_a_checkpoint(ckpts, tmp_path):
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(SystemExit) as err:
        tool.main([str(text), str(tmp_path / 'out.pth')])
    assert 'Cannot read checkpoint' in str(err.value)
    assert str(text) in str(err.value)
    tensors = tmp_path / 'list.pth'
    torch.save([torch.zeros(2)], tensors)
    with pytest.raises(SystemExit, match='holds no state dict'):
        tool.main([str(tensors), str(tmp_path / 'out.pth')])
    with pytest.raises(SystemExit, match='not found'):
        tool.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'o.pth')])
    heads = tmp_path / 'heads.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(2, 2)}}, heads)
    with pytest.raises(SystemExit, match=r'holds no encoder.*key groups: '
                       'head'):
        tool.main([str(heads), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()
    # an extracted file is not extracted again
    path, _ = ckpts('simclr')
    export(tmp_path, path, name='once.pth')
    with pytest.raises(SystemExit, match='already an extracted encoder'):
        tool.main([str(tmp_path / 'once.pth'), str(tmp_path / 'twice.pth')])


def test_parts_of_a_ddp_state_dict_and_non_finite_weights(tmp_path):
    state = {'module.backbone.w': torch.ones(2),
             'module.neck.w': torch.ones(2)}
    assert backbone_parts({k[7:]: v for k, v in state.items()}) == {
        'backbone': 'backbone.'}
    path = tmp_path / 'ddp.pth'
    torch.save(state, path)  # a bare, DDP-prefixed state dict
    weights, meta = extract_backbone(str(path))
    assert list(weights) == ['w']
    torch.save({'state_dict': {'backbone.w': torch.tensor([1.0, float(
        'nan')])}}, path)
    with pytest.raises(BackboneExportError, match='NaN / inf'):
        export_backbone(str(path), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()


# --------------------------------------------------------------- timm
def test_vit_keys_in_timm_layout(ckpts):
    _, state = ckpts('mics_vit')
    weights, kwargs = mmpretrain_to_timm(sub(state, 'backbone.'))
    assert kwargs == dict(in_chans=3, patch_size=8, img_size=64)
    assert {'cls_token', 'pos_embed', 'patch_embed.proj.weight',
            'blocks.0.norm1.weight', 'blocks.0.attn.qkv.weight',
            'blocks.0.attn.proj.weight', 'blocks.0.norm2.bias',
            'blocks.0.mlp.fc1.weight', 'blocks.11.mlp.fc2.bias',
            'norm.weight'} <= set(weights)
    assert not [k for k in weights if k.startswith(('layers.', 'ln'))]


def test_timm_option_without_timm(ckpts, tmp_path):
    try:
        import timm  # noqa: F401
        pytest.skip('timm is installed')
    except ImportError:
        pass
    path, _ = ckpts('simclr')
    with pytest.raises(SystemExit, match='needs the timm package'):
        tool.main([str(path), str(tmp_path / 'o.pth'), '--timm',
                   'resnet18'])
    assert not (tmp_path / 'o.pth').exists()


@pytest.mark.parametrize('name,timm_name', [('simclr', 'resnet18'),
                                            ('mics_vit',
                                             'vit_tiny_patch16_224')])
def test_timm_conversion_loads_into_timm(ckpts, tmp_path, name, timm_name):
    timm = pytest.importorskip('timm')
    path, _ = ckpts(name)
    weights, meta = export(tmp_path, path, '--timm', timm_name)
    assert meta['layout'] == 'timm'
    model = timm.create_model(timm_name, pretrained=False, num_classes=0,
                              **meta['timm_kwargs'])
    model.load_state_dict(weights, strict=True)


# ---------------------------------------------------------------- CLI
@pytest.mark.slow  # a subprocess
def test_command_line(ckpts, tmp_path):
    path, _ = ckpts('finetune')
    run = subprocess.run(
        [sys.executable, 'tools/model_converters/extract_backbone.py',
         str(path), '--list'], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert run.returncode == 0, run.stderr
    assert 'wli\tbackbones.wli.*\t' in run.stdout
    assert 'nbi\tbackbones.nbi.*\t' in run.stdout
