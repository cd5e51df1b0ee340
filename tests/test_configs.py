"""Every config in configs/ loads, builds its model and optimizer, and its
datasets read demo data: the synthetic Kvasir stand-in for MICS, the
real-brain demo set (MNI152 at 4 mm) for BrainMVP, its segmentation
(mmseg) and classification configs."""
import copy
import glob
import json
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapperDict, build_optim_wrapper

from mmengine.registry import DefaultScope

from mics_mm.testing.brain_demo import make_brain_demo
from mics_mm.testing.kvasir_demo import make_demo_kvasir
from mics_mm.datasets.splits import make_splits
from mics_mm.registry import DATASETS, HOOKS, MODEL_WRAPPERS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ALL_CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
# The Fashion-MNIST learning check's configs are built, run and checked by
# tests/test_benchmark/test_fashion_mnist_check.py (other data, other loop).
CONFIGS = [p for p in ALL_CONFIGS if '_fashion-mnist' not in p]
# The ViT-B/16 models are large; building one of them proves the rest.
HEAVY = ('vit-base', 'pretrain_kvasir.py', 'finetune_kvasir.py',
         'finetune_kvasir_v2.py', 'pretrain_brats.py')
BUILT_HEAVY = ('mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py',
               'vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo') / 'kvasir_demo_synthetic'
    make_demo_kvasir(root, per_class=6, size=64, seed=0)
    make_splits(str(root), seed=0)
    return str(root)


def test_configs_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {
        'pretrain_kvasir.py', 'pretrain_kvasir_demo.py', 'finetune_kvasir.py',
        'finetune_kvasir_v2.py', 'finetune_kvasir_demo.py'
    } <= names
    assert 'pretrain_brats.py' in names
    assert len(CONFIGS) >= 15


@pytest.fixture(scope='module')
def brain_root(tmp_path_factory):
    """The real-brain demo set, small, plus a classification manifest."""
    root = tmp_path_factory.mktemp('brain') / 'demo'
    make_brain_demo(str(root), subjects=3, factor=4, labelled=1, held_out=1,
                    itk_dir=None)
    items = json.load(open(root / 'pretrain.json'))
    for i, item in enumerate(items):
        item['gt_label'] = i % 2
    for split in ('train', 'val', 'test'):
        (root / f'cls_{split}.json').write_text(json.dumps(items))
    return str(root)


def _datasets(cfg, root, registry, loaders):
    """Build each loader's dataset on ``root`` and read one sample."""
    samples = []
    for loader in loaders:
        ds_cfg = cfg[loader].dataset.copy()
        inner = ds_cfg.dataset if ds_cfg.type == 'RepeatDataset' else ds_cfg
        inner['data_root'] = root
        dataset = registry.build(ds_cfg)
        assert len(dataset) > 0
        samples.append(dataset[0])
    return samples


def _check_brain_config(cfg, model_cfg, path, brain_root):
    """BrainMVP pre-training, segmentation (mmseg) and MRI classification."""
    name = osp.basename(path)
    backbone = model_cfg.get('backbone', {})
    if backbone.get('init_cfg') is not None:
        backbone.pop('init_cfg')  # the checkpoint is the user's
    if cfg.default_scope == 'mmseg':
        import mics_mm.seg  # noqa: F401
        from mmseg.registry import DATASETS as SEG_DATASETS
        from mmseg.registry import MODELS as SEG_MODELS
        assert cfg.custom_imports['imports'] == ['mics_mm', 'mics_mm.seg']
        assert cfg.model.type == 'EncoderDecoder'
        assert cfg.train_cfg.type == 'IterBasedTrainLoop'
        with DefaultScope.overwrite_default_scope('mmseg'):
            if 'resnet50' not in name:
                model = SEG_MODELS.build(model_cfg)
                build_optim_wrapper(model, cfg.optim_wrapper)
            samples = _datasets(cfg, brain_root, SEG_DATASETS,
                                ('train_dataloader', 'test_dataloader'))
        for sample in samples:
            channels = cfg.model.backbone.in_channels
            assert sample['inputs'].shape[0] == channels
            assert sample['data_samples'].gt_sem_seg is not None
        # BrainMVP-pre-trained configs name one checkpoint for the encoder
        # and for the templates.
        if 'brainmvp-pre' in name:
            assert cfg.model.data_preprocessor.templates == \
                cfg.model.backbone.init_cfg.checkpoint
        return
    if cfg.model.type == 'BrainMVPSegmentor3D':
        _check_seg3d_config(cfg, model_cfg, name, brain_root)
        return
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    if cfg.model.type in ('BrainMVP', 'MAE'):  # pre-training on MRI slices
        if 'uniformer-s' not in name and 'pretrain_brats' not in name:
            model = MODELS.build(model_cfg)
            build_optim_wrapper(model, cfg.optim_wrapper)
        for hook in cfg.get('custom_hooks', []):
            assert HOOKS.get(hook['type']) is not None, hook['type']
        sample, = _datasets(cfg, brain_root, DATASETS, ('train_dataloader', ))
        assert sample['inputs'].shape[0] == 4  # sampled modalities
        assert 'canvas_offset' in sample['data_samples'].metainfo
        return
    # MRI classification
    assert cfg.model.data_preprocessor.type == 'MRIDataPreprocessor'
    for sample in _datasets(cfg, brain_root, DATASETS,
                            ('train_dataloader', 'test_dataloader')):
        assert sample['inputs'].shape[0] == len(
            cfg.train_dataloader.dataset.modalities)
        assert sample['data_samples'].gt_label is not None
    if 'brainmvp-pre' in name:
        assert cfg.model.data_preprocessor.templates == \
            cfg.model.backbone.init_cfg.checkpoint


def _check_seg3d_config(cfg, model_cfg, name, brain_root):
    """BrainMVP 3D segmentation (BrainMVPSegmentor3D): the model and its
    optimizer build, the datasets read the demo's labelled studies (patches
    for training, whole volumes for testing); the tiny model also computes
    a loss and a whole-volume prediction."""
    from mmengine.dataset import default_collate
    assert cfg.default_scope == 'mics_mm'
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'BraTSMetric'
    if 'brainmvp-pre' in name:  # one checkpoint: encoder and templates
        assert model_cfg.pretrained and \
            model_cfg.templates == model_cfg.pretrained
        assert model_cfg.template_mix and model_cfg.feature_mse_weight > 0
    # the checkpoint is the user's
    model_cfg.update(pretrained=None, templates=None, template_mix=False,
                     feature_mse_weight=0.0)
    model = MODELS.build(model_cfg)
    build_optim_wrapper(model, cfg.optim_wrapper)
    train, test = _datasets(cfg, brain_root, DATASETS,
                            ('train_dataloader', 'test_dataloader'))
    patch = [t['size'] for t in cfg.train_dataloader.dataset.pipeline
             if t['type'] == 'RandomPatch3D'][0]
    channels = cfg.model.backbone.in_channels
    assert tuple(train['inputs'].shape) == (channels, ) + (patch, ) * 3
    assert tuple(train['data_samples'].gt_seg.shape) == (patch, ) * 3
    assert 'flip_axes' in train['data_samples'].metainfo
    assert tuple(test['inputs'].shape[1:]) == tuple(
        test['data_samples'].gt_seg.shape)
    if cfg.model.backbone.arch == 'tiny':
        data = model.data_preprocessor(default_collate([train, train]), True)
        assert torch.isfinite(model(**data, mode='loss')['loss_seg'])
        data = model.data_preprocessor(default_collate([test]), False)
        out, = model.eval()(**data, mode='predict')
        assert out.pred_seg.shape == test['data_samples'].gt_seg.shape


def _check_baseline_config(cfg, model_cfg, path, demo_root):
    """mmpretrain's own algorithm on the MICS data pipeline: two views are
    the two modalities (or one WLI image for MAE)."""
    assert cfg.model.type in ('SimCLR', 'MoCoV3', 'BYOL', 'MAE')
    assert cfg.train_dataloader.dataset.type == 'KvasirDataset'
    assert cfg.train_dataloader.dataset.ann_file == 'splits/train.json'
    if 'base' not in osp.basename(path):  # ViT-B / ResNet-50: too heavy
        model = MODELS.build(model_cfg)
        build_optim_wrapper(model, cfg.optim_wrapper)
    for hook in cfg.get('custom_hooks', []):
        assert HOOKS.get(hook['type']) is not None, hook['type']
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg['data_root'] = demo_root
    sample = DATASETS.build(ds_cfg)[0]
    both = cfg.data_preprocessor.type.split('.')[-1] == \
        'ViewsAsBatchDataPreprocessor'
    if cfg.model.type == 'MAE' and not both:  # WLI only
        assert tuple(sample['inputs'].shape) == (3, cfg.img_size,
                                                 cfg.img_size)
    elif cfg.model.type == 'MAE':
        # both modalities, each an MAE sample of its own: 2 pairs -> 4 images
        views = sample['inputs']
        assert isinstance(views, list) and len(views) == 2
        if 'base' not in osp.basename(path):
            from mmengine.dataset import default_collate
            data = model.data_preprocessor(
                default_collate([sample, sample]), True)
            assert tuple(data['inputs'].shape) == (4, 3, cfg.img_size,
                                                   cfg.img_size)
            loss = model(**data, mode='loss')['loss']
            assert torch.isfinite(loss)
    else:
        views = sample['inputs']
        assert isinstance(views, list) and len(views) == 2
        assert views[0].shape == views[1].shape


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, demo_root, brain_root):
    cfg = Config.fromfile(path)
    assert 'mics_mm' in cfg.custom_imports['imports']
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    heavy = any(h in osp.basename(path) for h in HEAVY)
    if '/brainmvp/' in path or '_brain-demo' in path:
        _check_brain_config(cfg, copy.deepcopy(model_cfg), path, brain_root)
        return
    assert cfg.default_scope == 'mics_mm'
    if '-1000it_' in osp.basename(path) or osp.basename(path) in (
            'finetune_kvasir.py', 'finetune_kvasir_v2.py'):
        # full-size fine-tuning: a fixed number of iterations of full
        # batches at any labelled fraction
        assert cfg.train_cfg.type == 'IterBasedTrainLoop'
        assert cfg.train_dataloader.sampler.type == 'SeededInfiniteSampler'
        assert all(not s.get('by_epoch', True) for s in cfg.param_scheduler)
        assert cfg.default_hooks.checkpoint.by_epoch is False
        # the best validation accuracy is kept
        assert cfg.default_hooks.checkpoint.save_best == 'accuracy'
        assert cfg.default_hooks.checkpoint.rule == 'greater'
    else:
        assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    if '/baselines/' in path and cfg.model.type != 'MICSMultiModalClassifier':
        # (a baseline encoder's linear probe is the MICS classifier: below)
        _check_baseline_config(cfg, model_cfg, path, demo_root)
        return
    pretrain = cfg.model.type == 'MICS'
    if 'init_cfg' in model_cfg.get('backbone', {}):
        model_cfg.backbone.pop('init_cfg')  # the checkpoint is the user's
    if not heavy or osp.basename(path) in BUILT_HEAVY:
        model = MODELS.build(model_cfg)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        if pretrain:
            assert isinstance(optim, OptimWrapperDict)
            assert set(optim.keys()) == {'generator', 'discriminator'}
    for hook in cfg.get('custom_hooks', []):
        assert HOOKS.get(hook['type']) is not None, hook['type']
    if pretrain:
        assert MODEL_WRAPPERS.get(cfg.model_wrapper_cfg['type']) is not None
    loaders = ['train_dataloader']
    if not pretrain:
        loaders += ['val_dataloader', 'test_dataloader']
    for loader in loaders:
        ds_cfg = cfg[loader].dataset.copy()
        if ds_cfg.type == 'SemiSupervisedDataset':
            ds_cfg.labeled.data_root = ds_cfg.unlabeled.data_root = demo_root
        else:
            ds_cfg['data_root'] = demo_root
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
        sample = dataset[0]
        if cfg.model.type == 'ImageClassifier':
            assert sample['inputs'].shape[0] == 3
            assert sample['data_samples'].gt_label is not None
        else:
            assert set(sample['inputs']) == set(cfg.model.modalities)
        if not pretrain:
            assert sample['data_samples'].gt_label is not None


def test_default_data_roots():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/mics/pretrain_kvasir.py'))
    assert cfg.train_dataloader.dataset.data_root == 'data/kvasir/'
    demo = Config.fromfile(
        osp.join(ROOT, 'configs/mics/pretrain_kvasir_demo.py'))
    assert demo.train_dataloader.dataset.data_root == \
        'data/kvasir_demo_synthetic/'
    v2 = Config.fromfile(
        osp.join(ROOT, 'configs/mics',
                 'mics_vit-base-p16_8xb32-coslr-100e_kvasir-v2-384px.py'))
    assert v2.train_dataloader.dataset.data_root == 'data/kvasir-v2/'


# mmpretrain 1.2.0 has a model-only config for MAE only; the other baselines
# say why they are not inherited through `mmpretrain::` (this phrase).
NOT_FROM_MMPRETRAIN = 'Not inherited through `mmpretrain::`'
# (the baseline encoders' linear probes are MICS classifier configs)
BASELINES = [
    p for p in CONFIGS if '/baselines/' in p and '_brain-demo' not in p
    and '-linear-' not in osp.basename(p)
]


def _local_bases(path):
    """The configs/ files named in ``path``'s ``_base_`` (no external
    ``scope::`` ones)."""
    bases = Config._get_base_files(path)
    return [
        osp.normpath(osp.join(osp.dirname(path), b)) for b in bases
        if '::' not in b
    ]


def _model_from_mmpretrain_or_explained(path):
    text = open(path).read()
    if NOT_FROM_MMPRETRAIN in text:
        return True
    if Config.fromfile(path).model.get('_scope_') == 'mmpretrain':
        return True  # model of an mmpretrain:: base, not replaced
    if re.search(r'^model\s*=', text, re.M):
        return False
    # the model is inherited as it is: the base answers
    return any(
        _model_from_mmpretrain_or_explained(b) for b in _local_bases(path)
        if '/baselines/' in b)


@pytest.mark.parametrize('path', BASELINES, ids=osp.basename)
def test_baseline_model_from_mmpretrain_or_explained(path):
    assert _model_from_mmpretrain_or_explained(path), (
        f'{path}: inherit the model through an mmpretrain:: base, or say '
        f'why not ("{NOT_FROM_MMPRETRAIN}: ...")')


def test_mae_baselines_inherit_mmpretrains_model():
    for path in BASELINES:
        if osp.basename(path).startswith('mae_'):
            cfg = Config.fromfile(path)
            assert cfg.model.get('_scope_') == 'mmpretrain', path
            assert cfg.model.init_cfg is not None  # mmpretrain's MAE init


KVASIR_FILES = sorted(
    [p for p in CONFIGS if '/brainmvp/' not in p and '_brain-demo' not in p]
    + glob.glob(osp.join(ROOT, 'configs', '_base_', 'datasets', 'kvasir*.py')))


@pytest.mark.parametrize('path', KVASIR_FILES, ids=osp.basename)
def test_pipelines_restated_only_with_a_reason(path):
    """A config that inherits states its own train / test pipeline only
    under a comment saying how it differs ('# Own pipeline: ...');
    the demo leaf configs take theirs from the _base_/datasets/*_demo-64px
    bases (or a {{_base_.*}} reference)."""
    lines = open(path).read().splitlines()
    if not any(line.startswith('_base_') for line in lines):
        return  # the root of its pipelines
    for i, line in enumerate(lines):
        match = re.match(r'(train|test)_pipeline\s*=\s*(.*)', line)
        if not match or match.group(2).startswith('{{_base_.'):
            continue
        # the nearest comment block above (one block may explain both the
        # train and the test pipeline that follow it)
        j = i - 1
        while j >= 0 and not lines[j].startswith('#'):
            j -= 1
        comment = []
        while j >= 0 and lines[j].startswith('#'):
            comment.append(lines[j])
            j -= 1
        assert any(c.startswith('# Own pipeline') for c in comment), (
            f'{path}:{i + 1} restates {match.group(1)}_pipeline without an '
            "'# Own pipeline: <what differs>' comment above it")
