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
