"""Every config in configs/ loads, builds its model and optimizer, and its
dataset reads the (synthetic) demo data."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import OptimWrapperDict, build_optim_wrapper

from mics_mm.datasets.demo import make_demo_kvasir
from mics_mm.datasets.splits import make_splits
from mmpretrain.registry import DATASETS, HOOKS, MODEL_WRAPPERS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
# The ViT-B/16 models are large; building one of them proves the rest.
HEAVY = ('vit-base', 'pretrain_kvasir.py', 'finetune_kvasir.py',
         'finetune_kvasir_v2.py', 'pretrain_brats.py')


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


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path, demo_root):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'mics_mm' in cfg.custom_imports['imports']
    assert cfg.train_cfg.type == 'EpochBasedTrainLoop'
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    heavy = any(h in osp.basename(path) for h in HEAVY)
    if cfg.model.type == 'BrainMVP' and not heavy:
        # NIfTI data: its dataset and training run in
        # tests/test_engine/test_brainmvp_training.py.
        model = MODELS.build(model_cfg)
        build_optim_wrapper(model, cfg.optim_wrapper)
        for hook in cfg.get('custom_hooks', []):
            assert HOOKS.get(hook['type']) is not None, hook['type']
        assert cfg.train_dataloader.dataset.type == 'MicsBrainMRIDataset'
        return
    if cfg.model.type == 'BrainMVP':
        assert cfg.train_dataloader.dataset.data_root == 'data/brats/'
        return
    pretrain = cfg.model.type == 'MICS'
    if 'init_cfg' in model_cfg.get('backbone', {}):
        model_cfg.backbone.pop('init_cfg')  # the checkpoint is the user's
    if not heavy or 'kvasir-384px' in path or 'kvasir-10pct-384px' in path:
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
        if ds_cfg.type == 'MicsSemiSupervisedDataset':
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
