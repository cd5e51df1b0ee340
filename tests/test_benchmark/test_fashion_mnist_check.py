"""The Fashion-MNIST learning check: its skip, its pieces and a tiny run
end to end on SYNTHETIC idx files."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from mics_mm.benchmark import fashion_mnist as fm
from mics_mm.datasets import FashionMNISTMultiModal
from mics_mm.testing.fashion_mnist import make_synthetic_fashion_mnist

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'fashion_mnist_check',
        osp.join(ROOT, 'tools/benchmark/fashion_mnist_check.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_skips_with_a_clear_message_without_the_package(tmp_path, capsys):
    out = tmp_path / 'out'
    assert _tool().main(['--data', str(tmp_path / 'none'), '--out',
                         str(out)]) is None
    text = capsys.readouterr().out
    assert 'skipped' in text and 'apt-get install dataset-fashion-mnist' \
        in text
    assert not out.exists()


def test_configs_share_one_budget():
    budgets = set()
    for method, path in fm.PRETRAIN.items():
        if path is None:
            continue
        cfg = Config.fromfile(osp.join(ROOT, path))
        budgets.add((cfg.train_cfg.max_iters,
                     cfg.train_dataloader.batch_size,
                     cfg.train_dataloader.dataset.type))
        backbone = cfg.model.backbone
        assert (backbone.depth, backbone.base_channels) == (18, 32), method
    assert len(budgets) == 1


@pytest.mark.parametrize('method', ['mics', 'simclr', 'byol', 'mocov3'])
def test_each_pretrain_config_trains_a_step(method, tmp_path):
    from mmengine.logging import MessageHub
    from mmengine.optim import build_optim_wrapper
    from mmengine.dataset import default_collate
    from mics_mm.registry import MODELS
    root = make_synthetic_fashion_mnist(str(tmp_path), 20, 10)
    cfg = Config.fromfile(osp.join(ROOT, fm.PRETRAIN[method]))
    ds_cfg = dict(cfg.train_dataloader.dataset, data_root=root)
    ds_cfg.pop('type')
    ds = FashionMNISTMultiModal(**ds_cfg)
    batch = default_collate([ds[i] for i in range(8)])
    model_cfg = dict(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    if method == 'mics':
        model_cfg['head'] = dict(model_cfg['head'], queue_size=16)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    MessageHub.get_current_instance().update_info('max_iters', 10)
    MessageHub.get_current_instance().update_info('iter', 0)
    losses = model.train_step(batch, build_optim_wrapper(model,
                                                         cfg.optim_wrapper))
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_eval_arrays_equal_the_config_test_pipeline(tmp_path):
    root = make_synthetic_fashion_mnist(str(tmp_path), 10, 10)
    cfg = Config.fromfile(osp.join(ROOT, fm.FINETUNE))
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    ds = FashionMNISTMultiModal(data_root=root, split='test')
    images, _ = fm.load_split(root, 'test')
    arrays = fm.eval_arrays(images)
    for i in range(3):
        packed = pipeline(ds.get_data_info(i))
        for name in ('image', 'gradient'):
            assert torch.equal(packed['inputs'][name], arrays[name][i])


def test_set_iters_scales_schedule_and_hooks():
    cfg = Config.fromfile(osp.join(ROOT, fm.PRETRAIN['mics']))
    fm.set_iters(cfg, 20)
    assert cfg.train_cfg.max_iters == 20
    gen = cfg.param_scheduler['generator']
    assert (gen[0]['end'], gen[1]['begin'], gen[1]['end']) == (2, 2, 20)
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert hooks['MICSAlphaWarmupHook']['warmup_iters'] == 2
    assert hooks['PreciseBNHook']['interval'] == 20
    assert cfg.default_hooks.checkpoint.interval == 20


def test_pretrain_options_reach_the_config():
    cfg = fm._pretrain_cfg(ROOT, 'mics', 3, '/data', None, None, {
        'model.loss_weights.reconstruction': 1.0,
        'model.head.queue_size': 65536})
    assert cfg.model.loss_weights.reconstruction == 1.0
    assert cfg.model.head.queue_size == 65536
    assert cfg.randomness.seed == 3
    assert cfg.train_dataloader.dataset.data_root == '/data'
    args = _tool().parse_args(['--out', 'x', '--pretrain-cfg-options',
                               'model.head.queue_size=16'])
    assert args.pretrain_cfg_options == {'model.head.queue_size': 16}


def test_markdown_without_finetuning():
    runs = [dict(method=m, seed=s, knn=0.5 + 0.1 * s, linear=0.6)
            for m in ('mics', 'random') for s in (0, 1)]
    summary = fm.summarise_check(runs, fm.PROTOCOLS[:2])
    assert set(summary['mics']) == {'knn', 'linear'}
    text = fm.check_markdown(dict(
        summary=summary, budgets={}, verdict=fm.verdict(summary)))
    assert '| mics | 55.00 +- 7.07 | 60.00 +- 0.00 |' in text
    assert 'fine-tune' not in text


def _summary(values):
    return {
        m: {p: dict(mean=float(np.mean(v)), std=float(np.std(v, ddof=1)),
                    values=list(v))
            for p, v in row.items()}
        for m, row in values.items()
    }


def test_verdict_reads_the_figures():
    s = _summary(dict(
        random=dict(knn=[.5, .5, .5], linear=[.6, .6, .6],
                    finetune_1pct=[.7, .7, .7]),
        mics=dict(knn=[.8, .8, .8], linear=[.61, .6, .61],
                  finetune_1pct=[.75, .75, .75]),
        simclr=dict(knn=[.7, .71, .7], linear=[.8, .8, .8],
                    finetune_1pct=[.6, .6, .6])))
    v = fm.verdict(s)
    assert v['beats_random']['mics'] == dict(knn=True, linear=False)
    assert v['beats_random']['simclr'] == dict(knn=True, linear=True)
    assert v['mics_level_with_best']['knn'] == dict(best='simclr',
                                                    level=True)
    assert v['mics_level_with_best']['linear'] == dict(best='simclr',
                                                       level=False)
    # simclr's probe beats random init, its fine-tuning ends below scratch
    assert v['finetune_below_scratch'] == ['simclr']


@pytest.mark.slow
def test_tiny_check_end_to_end(tmp_path, capsys):
    """Two methods, one seed, a few iterations on 200 SYNTHETIC images:
    every stage runs, the encoder loads strictly, results are written,
    and a second run refuses to overwrite them."""
    data = make_synthetic_fashion_mnist(str(tmp_path / 'data'), 200, 100)
    out = tmp_path / 'out'
    argv = ['--data', data, '--out', str(out), '--methods', 'mics',
            'random', '--seeds', '0', '--pretrain-iters', '2',
            '--finetune-iters', '2']
    result = _tool().main(argv)
    assert [(r['method'], r['seed']) for r in result['runs']] == \
        [('mics', 0), ('random', 0)]
    for run in result['runs']:
        for p in fm.PROTOCOLS:
            assert 0 <= run[p] <= 1
    assert result['budgets'] == dict(mics=dict(iters=2, batch=128))
    saved = json.loads((out / 'results.json').read_text())
    assert saved['summary']['mics']['knn']['values'] == [
        result['runs'][0]['knn']]
    assert '| mics |' in (out / 'results.md').read_text()
    # PreciseBN ran on the MICS encoder (iteration-based, persistent
    # workers): its statistics are those of images, not zeros
    enc = fm.encoder_from_checkpoint(
        ROOT, str(out / 'pretrain' / 'mics_seed0' / 'iter_2.pth'), 0)
    assert enc.bn1.running_var.min() > 0
    assert '[fashion_mnist_check] job 1 of 3' in capsys.readouterr().out
    with pytest.raises(FileExistsError, match='--resume'):
        _tool().main(argv)
    again = _tool().main(argv + ['--resume'])
    assert again['runs'] == result['runs']
    # another fine-tuning config on the same --out: pre-training and the
    # kNN / linear scores are reused, the fine-tuning runs again
    before = fm.FINETUNE.replace('-1pct-32px', '-1pct-kvasir-aug-32px')
    other = _tool().main(argv + ['--resume', '--finetune-config',
                                 osp.join(ROOT, before)])
    assert other['finetune_config'] == before
    assert [r['knn'] for r in other['runs']] == \
        [r['knn'] for r in result['runs']]
    stage = osp.splitext(osp.basename(before))[0]
    assert (out / f'finetune-{stage}' / 'mics_seed0' / 'job.json').is_file()
    assert (out / f'results-{stage}.json').is_file()
    assert 'reusing' in capsys.readouterr().out
