"""The ImageNet-initialised MICS configs: mmpretrain's released weights map
onto our encoders key for key. Nothing is downloaded: a state dict of the
released architecture (mmpretrain's ImageClassifier built from the config
the metafile names for those weights, ``backbone.*`` + ``head.*`` as in the
released file) is saved to a temporary file and loaded with the config's
prefix, strictly after prefix stripping."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import (_load_checkpoint_with_prefix,
                                        load_state_dict)

import mics_mm  # noqa: F401
from mics_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MMPRETRAIN_CONFIGS = osp.join(
    osp.dirname(__import__('mmpretrain').__file__), '.mim', 'configs')
RESNET_URL = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
              'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
VIT_URL = ('https://download.openmmlab.com/mmclassification/v0/vit/finetune/'
           'vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_'
           '20210928-98e8652b.pth')

# (our config, init level, released weights, mmpretrain config of them,
#  our encoder's parameters the weights do not have)
CASES = [
    ('configs/mics/mics_resnet50_in1k-pre_8xb32-coslr-100e_kvasir-224px.py',
     'backbone', RESNET_URL, 'resnet/resnet50_8xb32_in1k.py',
     {'mask_token'}),
    ('configs/mics/benchmarks/'
     'resnet50_in1k-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py',
     'backbone', RESNET_URL, 'resnet/resnet50_8xb32_in1k.py', set()),
    ('configs/mics/'
     'mics_vit-base-p16_in21k-in1k-pre_8xb32-coslr-100e_kvasir-384px.py',
     'model', VIT_URL, 'vision_transformer/vit-base-p16_64xb64_in1k-384px.py',
     set()),
    ('configs/mics/benchmarks/'
     'vit-base-p16_in21k-in1k-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py',
     'backbone', VIT_URL,
     'vision_transformer/vit-base-p16_64xb64_in1k-384px.py', set()),
]


def _init_cfg(cfg, level):
    """The config's Pretrained init and the prefix its keys lose on the
    way to the encoder (a model-level init without prefix loads
    ``backbone.*`` onto ``model.backbone``)."""
    if level == 'backbone':
        init = cfg.model.backbone.init_cfg
        return init, init.prefix
    init = cfg.model.init_cfg
    assert 'prefix' not in init
    assert 'init_cfg' not in cfg.model.backbone
    return init, 'backbone.'


@pytest.mark.parametrize('case', CASES, ids=lambda c: osp.basename(c[0]))
def test_released_weights_map_onto_our_encoder(case, tmp_path):
    path, level, url, reference, extras = case
    cfg = Config.fromfile(osp.join(ROOT, path))
    init, prefix = _init_cfg(cfg, level)
    assert init.type == 'Pretrained' and init.checkpoint == url
    # the released weights' architecture, key layout backbone.* + head.*
    ref_cfg = Config.fromfile(osp.join(MMPRETRAIN_CONFIGS, reference))
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    released = MMPRETRAIN_MODELS.build(ref_cfg.model).state_dict()
    assert {k.split('.')[0] for k in released} == {'backbone', 'head'}
    ckpt = tmp_path / osp.basename(url)
    torch.save(dict(state_dict=released, meta=dict()), ckpt)
    del released

    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.pop('init_cfg', None)
    encoder = MODELS.build(backbone_cfg)
    ours = encoder.state_dict()
    state = _load_checkpoint_with_prefix(prefix, str(ckpt))
    missing = set(ours) - set(state)
    unexpected = set(state) - set(ours)
    assert unexpected == set(), sorted(unexpected)
    assert missing == extras, sorted(missing)
    assert all(state[k].shape == ours[k].shape for k in state)
    # strict after the prefix: every key of both sides accounted for
    state.update({k: ours[k] for k in extras})
    load_state_dict(encoder, state, strict=True)
    if level == 'model':
        # the rest of the file is the ImageNet classifier, unused
        full = torch.load(ckpt, weights_only=True)['state_dict']
        rest = {k for k in full if not k.startswith(prefix)}
        assert rest and all(k.startswith('head.') for k in rest)


def _tiny_checkpoint(tmp_path):
    """A deit-tiny / patch 8 / 64 px VisionTransformer classifier, every
    value shifted so that a re-drawn tensor shows."""
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    model = MMPRETRAIN_MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', arch='deit-tiny',
                      img_size=64, patch_size=8),
        head=dict(type='VisionTransformerClsHead', num_classes=10,
                  in_channels=192)))
    state = {k: v + 1.0 for k, v in model.state_dict().items()}
    path = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=state), path)
    return str(path), state


def test_maevit_init_redraws_after_a_backbone_init(tmp_path):
    """Why the ViT pre-training initialises the model, not the backbone:
    MAEViT.init_weights redraws these three after a backbone 'Pretrained'
    init has loaded them."""
    path, state = _tiny_checkpoint(tmp_path)
    vit = MODELS.build(dict(
        type='MAEViT', arch='deit-tiny', img_size=64, patch_size=8,
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='backbone.')))
    vit.init_weights()
    redrawn = {k for k, v in vit.state_dict().items()
               if not torch.equal(v, state['backbone.' + k])}
    assert redrawn == {'cls_token', 'pos_embed',
                       'patch_embed.projection.weight'}


def test_model_level_init_reaches_the_mics_vit_encoder(tmp_path):
    """The ViT config's model-level init on the (tiny) MICS ViT demo model:
    after init_weights every encoder tensor is the checkpoint's."""
    path, state = _tiny_checkpoint(tmp_path)
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/mics/mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-'
        '64px.py'))
    big = Config.fromfile(osp.join(ROOT, CASES[2][0]))
    model_cfg = cfg.model.copy()
    model_cfg.init_cfg = dict(big.model.init_cfg, checkpoint=path)
    model_cfg.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(model_cfg)
    model.init_weights()
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, state['backbone.' + k]), k
