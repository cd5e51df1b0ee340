"""KNNMonitorHook on a tiny MICS ResNet-18 and the SYNTHETIC demo data,
called directly with a minimal fake runner."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mics_mm.apis import resize_pipeline
from mics_mm.registry import HOOKS, MODELS

from reliability_helpers import REPO, make_kvasir, one_thread  # noqa: F401

CONFIG = (REPO / 'configs/mics/'
          'mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py')
SIZE = 32


class FakeVisualizer:

    def __init__(self):
        self.scalars = []

    def add_scalars(self, scalars, step=0, **kwargs):
        self.scalars.append((dict(scalars), step))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_kvasir(str(tmp_path_factory.mktemp('kvasir')), per_class=2,
                       size=SIZE)


@pytest.fixture(scope='module')
def model():
    from mmengine.config import Config
    torch.manual_seed(0)
    init_default_scope('mics_mm')
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.head.queue_size = 16
    return MODELS.build(cfg.model)


def loader(data):
    return dict(
        batch_size=8,
        dataset=dict(type='KvasirDataset', data_root=data, ann_file='',
                     split=None, test_mode=True,
                     pipeline=resize_pipeline(SIZE)))


def fake_runner(model, epoch=0, max_epochs=2):
    return SimpleNamespace(
        model=model, epoch=epoch, max_epochs=max_epochs,
        message_hub=MessageHub.get_instance(f'knn-test-{id(model)}-{epoch}'),
        visualizer=FakeVisualizer(), logger=None)


@pytest.mark.parametrize('modality', [None, 'nbi', 'concat'])
def test_logs_knn_top1_and_restores_train_mode(data, model, modality):
    hook = HOOKS.build(dict(type='KNNMonitorHook',
                            train_dataloader=loader(data),
                            val_dataloader=loader(data), k=20,
                            modality=modality))
    model.train()
    runner = fake_runner(model)
    hook.after_train_epoch(runner)
    top1 = runner.message_hub.get_scalar('knn/top1').current()
    assert 0.0 <= top1 <= 1.0
    (scalars, step), = runner.visualizer.scalars
    assert scalars == {'knn/top1': top1} and step == 0
    assert model.training and model.backbone.training


def test_k1_on_the_bank_itself_is_exact(data, model):
    """Each query is its own nearest neighbour (cosine 1): top-1 is 1."""
    hook = HOOKS.build(dict(type='KNNMonitorHook',
                            train_dataloader=loader(data),
                            val_dataloader=loader(data), k=1))
    model.eval()
    assert hook.compute(model) == 1.0
    assert not model.training  # state kept as it was


def test_interval(data, model):
    hook = HOOKS.build(dict(type='KNNMonitorHook',
                            train_dataloader=loader(data),
                            val_dataloader=loader(data), interval=2, k=3))
    runner = fake_runner(model, epoch=0, max_epochs=5)
    hook.after_train_epoch(runner)  # end of epoch 1 of 5: skipped
    assert runner.visualizer.scalars == []
    runner = fake_runner(model, epoch=1, max_epochs=5)
    hook.after_train_epoch(runner)  # end of epoch 2: runs
    assert len(runner.visualizer.scalars) == 1


def test_unknown_modality(data, model):
    hook = HOOKS.build(dict(type='KNNMonitorHook',
                            train_dataloader=loader(data),
                            val_dataloader=loader(data), modality='ct'))
    with pytest.raises(KeyError, match="'ct' not in the batch"):
        hook.compute(model)


def _load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mics_knn_eval', REPO / 'tools/analysis/knn_eval.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_knn_eval_tool(tmp_path, model):
    import json

    from mics_mm.datasets.splits import make_splits
    data = make_kvasir(str(tmp_path / 'kvasir'), per_class=5, size=SIZE)
    make_splits(data, val=0.0, test=0.4, fractions=(1.0, ))
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    tool = _load_tool()
    out = tmp_path / 'knn.json'
    args = [str(CONFIG), str(ckpt), '--data-root', data, '--img-size',
            str(SIZE), '--out', str(out)]
    result = tool.main(args + ['--k', '5', '--modality', 'wli'])
    assert 0.0 <= result['top1'] <= 1.0
    assert result['num_train'] == 24 and result['num_test'] == 16
    assert json.loads(out.read_text())['top1'] == result['top1']
    # the train split queried against itself with k=1: exactly right
    same = tool.main(args + ['--k', '1', '--test-split', 'splits/train.json'])
    assert same['top1'] == 1.0 and same['modality'] == 'wli'
    with pytest.raises(SystemExit, match='larger than the train split'):
        tool.main(args + ['--k', '25'])
    # a checkpoint without the encoder's weights is refused
    torch.save(dict(state_dict={}), ckpt)
    with pytest.raises(SystemExit, match='backbone weights missing'):
        tool.main(args)


# --------------------------------------------------------------------------
# knn_eval settings from the config (knn_eval = dict(...))
# --------------------------------------------------------------------------
@pytest.fixture
def split_data(tmp_path):
    from mics_mm.datasets.splits import make_splits
    data = make_kvasir(str(tmp_path / 'kvasir'), per_class=5, size=SIZE)
    make_splits(data, val=0.0, test=0.4, fractions=(1.0, ))
    return data


def _config_with(tmp_path, base, **knn_eval):
    path = tmp_path / 'knn_cfg.py'
    path.write_text(f'_base_ = {str(base)!r}\nknn_eval = {knn_eval!r}\n')
    return str(path)


def test_knn_eval_takes_its_settings_from_the_config(tmp_path, model,
                                                     split_data):
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    tool = _load_tool()
    config = _config_with(tmp_path, CONFIG, k=3, temperature=0.1,
                          batch_size=4, modality='nbi', img_size=SIZE,
                          data_root=split_data)
    result = tool.main([config, str(ckpt)])  # no flag, no --data-root
    assert (result['k'], result['temperature'], result['batch_size'],
            result['modality'], result['img_size']) == (3, 0.1, 4, 'nbi',
                                                        SIZE)
    assert result['data_root'] == split_data
    assert result['num_train'] == 24 and result['num_test'] == 16
    # a flag given on the command line wins over the config
    flagged = tool.main([config, str(ckpt), '--k', '5', '--modality', 'wli'])
    assert (flagged['k'], flagged['modality'], flagged['batch_size']) == (
        5, 'wli', 4)
    # a key left out keeps the built-in default; the config's data root
    # (its loaders') when knn_eval names none
    partial = _config_with(tmp_path, CONFIG, k=3)
    result = tool.main([partial, str(ckpt), '--data-root', split_data,
                        '--img-size', str(SIZE)])
    assert (result['k'], result['temperature'], result['batch_size']) == (
        3, 0.07, 32)
    args = tool.parse_args([partial, str(ckpt)])
    from mmengine.config import Config
    assert tool.resolve_settings(args, Config.fromfile(partial))[
        'data_root'] == 'data/kvasir_demo_synthetic/'
    with pytest.raises(SystemExit, match=r"unknown knn_eval keys \['kk'\]"):
        tool.main([_config_with(tmp_path, CONFIG, kk=3), str(ckpt),
                   '--data-root', split_data])


BASELINE = (REPO / 'configs/baselines/'
            'simclr_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py')


def test_knn_of_a_one_input_baseline_encoder(tmp_path, split_data):
    """mmpretrain's SimCLR (one image per sample, SelfSupDataPreprocessor)
    on the multi-modal Kvasir batches: the chosen modality's images alone;
    'concat' runs it on both and concatenates."""
    from mmengine.config import Config
    torch.manual_seed(0)
    init_default_scope('mics_mm')
    cfg = Config.fromfile(str(BASELINE))
    cfg.model.data_preprocessor = cfg.data_preprocessor
    simclr = MODELS.build(cfg.model)
    ckpt = tmp_path / 'simclr.pth'
    torch.save(dict(state_dict=simclr.state_dict()), ckpt)
    tool = _load_tool()
    config = _config_with(tmp_path, BASELINE, k=3, modality='wli',
                          img_size=SIZE, data_root=split_data)
    result = tool.main([config, str(ckpt)])
    assert 0.0 <= result['top1'] <= 1.0 and result['k'] == 3
    same = tool.main([config, str(ckpt), '--k', '1', '--test-split',
                      'splits/train.json'])
    assert same['top1'] == 1.0  # each image is its own nearest neighbour
    # the monitor hook goes through the same code
    hook = HOOKS.build(dict(type='KNNMonitorHook',
                            train_dataloader=loader(split_data),
                            val_dataloader=loader(split_data), k=1,
                            modality='concat'))
    simclr.eval()
    assert hook.compute(simclr) == 1.0
    from mics_mm.evaluation.knn import extract_knn_features
    from torch.utils.data import DataLoader
    from mmengine.dataset import pseudo_collate
    from mics_mm.registry import DATASETS
    batches = DataLoader(DATASETS.build(loader(split_data)['dataset']),
                         batch_size=8, collate_fn=pseudo_collate)
    one, _ = extract_knn_features(simclr, batches, 'nbi')
    both, labels = extract_knn_features(simclr, batches, 'concat')
    assert one.shape == (len(labels), 512)
    assert both.shape == (len(labels), 1024)
    with pytest.raises(KeyError, match="'ct' not in the batch"):
        extract_knn_features(simclr, batches, 'ct')


# --------------------------------------------------------------------------
# the monitor on in a pre-training config
# --------------------------------------------------------------------------
MONITORED = (REPO / 'configs/mics/'
             'mics_resnet18_1xb32-coslr-10e_kvasir-demo-knn-64px.py')


def test_pretraining_with_the_monitor_config_logs_knn_top1(tmp_path):
    """configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-knn-64px.py
    (the demo pre-training with ../_base_/knn_monitor_demo-64px.py): one
    epoch on tiny data, then knn/top1 of the val split is in the message
    hub and in scalars.json."""
    import glob
    import json

    from mmengine.runner import Runner

    from mics_mm.benchmark import pretrain_cfg
    from mics_mm.datasets.splits import make_splits
    data = make_kvasir(str(tmp_path / 'kvasir'), per_class=3, size=SIZE)
    make_splits(data, seed=0, fractions=(100, ))
    cfg = pretrain_cfg(str(MONITORED), data, task='kvasir', epochs=1,
                       batch=8, workers=0, root=str(REPO))
    hook = cfg.custom_hooks[-1]
    assert hook['type'] == 'KNNMonitorHook' and hook['interval'] == 5
    for name in ('train_dataloader', 'val_dataloader'):
        hook[name]['dataset']['data_root'] = data
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'PreciseBNHook']  # time only
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    top1 = runner.message_hub.get_scalar('knn/top1').current()
    assert 0.0 <= top1 <= 1.0
    scalars, = glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' /
                             'scalars.json'))
    logged = [json.loads(line) for line in open(scalars)]
    assert any(r.get('knn/top1') == top1 for r in logged)
