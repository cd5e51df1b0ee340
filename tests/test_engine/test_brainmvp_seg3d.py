"""BrainMVP 3D segmentation end to end through tools/train.py and
tools/test.py, on a small real-brain demo set (MNI152 at 4 mm): the CPU
config fine-tuned from a BrainMVP-style checkpoint (1-channel encoder
inflated over 4 channels, templates filling the missing modalities and
substituting channels, the two-view MSE), tested with class-wise Dice /
HD95; and the BraTS region scoring of the same studies (their labels
1 / 2 / 3 read as BraTS 2023's)."""
import json
import os.path as osp
import sys

import pytest
from reliability_helpers import run_tool
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mics_mm.registry import MODELS
from mics_mm.testing.brain_demo import make_brain_demo

# end-to-end / subprocess: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CPU = ('configs/brainmvp/benchmarks/'
       'uniformer-tiny_unetr_1xb2-adam-40it_brain-demo-3d-32px.py')


def run(cmd):
    return run_tool(cmd)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('brain') / 'demo'
    record = make_brain_demo(str(root), subjects=5, factor=4, labelled=2,
                             held_out=1, itk_dir=None)
    return str(root), tuple(record['canvas'])


@pytest.fixture(scope='module')
def checkpoint(demo, tmp_path_factory):
    """A BrainMVP-style checkpoint: tiny encoder pre-trained on one channel
    ('backbone.'), 8 templates on the demo canvas."""
    _, canvas = demo
    with DefaultScope.overwrite_default_scope('mics_mm'):
        backbone = MODELS.build(
            dict(type='UniFormer3D', arch='tiny', in_channels=1,
                 out_indices=(0, 1, 2, 3)))
        backbone.init_weights()
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['templates.templates'] = torch.rand((8, ) + canvas)
    path = tmp_path_factory.mktemp('ckpt') / 'brainmvp.pth'
    torch.save(dict(state_dict=state), str(path))
    return str(path)


def options(root, iters=4):
    opts = [
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        f'param_scheduler.0.T_max={iters}', f'param_scheduler.0.end={iters}'
    ]
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False'
        ]
    return opts


def test_finetune_from_brainmvp_and_test_class_wise(demo, checkpoint,
                                                    tmp_path):
    root, _ = demo
    opts = options(root) + [
        f'model.pretrained={checkpoint}', f'model.templates={checkpoint}',
        'model.stem_init=inflate', 'model.template_mix=True',
        'model.feature_mse_weight=0.1'
    ]
    work = tmp_path / 'work'
    log = run([sys.executable, 'tools/train.py', CPU, '--work-dir',
               str(work), '--cfg-options', *opts])
    assert 'BrainMVPSegmentor3D: loaded the encoder' in log
    assert 'patch_embeds.0.proj: inflate' in log
    assert 'loss_seg' in log and 'loss_mse' in log
    assert 'BraTSMetric over 1 cases' in log  # validation: sub003
    out = tmp_path / 'metrics.json'
    log = run([sys.executable, 'tools/test.py', CPU,
               str(work / 'iter_4.pth'), '--work-dir', str(work), '--out',
               str(out), '--cfg-options', *opts])
    metrics = json.loads(out.read_text())
    assert metrics['num_cases'] == 1  # sub004
    for name in ('csf', 'gray_matter', 'white_matter'):
        assert 0.0 <= metrics[f'Dice.{name}'] <= 1.0
        assert metrics[f'HD95.{name}'] >= 0.0
        assert f'Dice.{name}.median' in metrics
    assert 'Dice.background' not in metrics
    assert 0.0 <= metrics['mDice'] <= 1.0 and metrics['mHD95'] >= 0.0


def test_brats_regions_through_the_test_tool(demo, tmp_path):
    """Region outputs (BraTS 2023 labels 1 / 2 / 3 = the demo's tissue
    labels), scored as WT / TC / ET, from a checkpoint of the region
    model."""
    root, _ = demo
    opts = options(root) + [
        'model.head.regions=2023', 'model.head.num_classes=None',
        'val_evaluator.regions=2023', 'test_evaluator.regions=2023'
    ]
    cfg = Config.fromfile(osp.join(ROOT, CPU))
    cfg.merge_from_dict(dict(model=dict(head=dict(regions='2023',
                                                  num_classes=None))))
    with DefaultScope.overwrite_default_scope('mics_mm'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    assert model.head.out_channels == 3
    ckpt = tmp_path / 'regions.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), str(ckpt))
    out = tmp_path / 'metrics.json'
    run([sys.executable, 'tools/test.py', CPU, str(ckpt), '--work-dir',
         str(tmp_path / 'work'), '--out', str(out), '--cfg-options', *opts])
    metrics = json.loads(out.read_text())
    assert metrics['num_cases'] == 1
    for region in ('WT', 'TC', 'ET'):
        assert 0.0 <= metrics[f'Dice.{region}'] <= 1.0
        assert metrics[f'HD95.{region}.median'] >= 0.0
    assert metrics['mDice'] == pytest.approx(
        sum(metrics[f'Dice.{r}'] for r in ('WT', 'TC', 'ET')) / 3)
