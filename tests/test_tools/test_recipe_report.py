"""``mics_mm.apis.recipe`` and ``tools/analysis/recipe_report.py``: the
recipe numbers, hand-computed for small synthetic configs (mmengine's
``DefaultSampler`` + ``DataLoader`` arithmetic), the warnings, and the
printed report of the real MICS pre-training config."""
import copy
import importlib.util
import json
import os.path as osp

import pytest
from mmengine.config import Config

from mics_mm.apis import format_recipe, recipe_report
from mics_mm.datasets.splits import make_splits
from mics_mm.testing.kvasir_demo import make_demo_kvasir

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'recipe_report.py')
PRETRAIN_KVASIR = osp.join(ROOT, 'configs', 'mics', 'pretrain_kvasir.py')
DEMO_CFG = osp.join(ROOT, 'configs', 'mics', 'pretrain_kvasir_demo.py')


def load_tool(path):
    """Import a tool script as a module (tools/ is not a package)."""
    name = 'tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recipe_tool = load_tool(TOOL)

# Epoch-based, batch 32, 1-epoch warm-up converted to iterations; two
# optimizers sharing the scheduler list (as mmengine applies a list).
BASE = dict(
    model=dict(type='MICS'),
    train_dataloader=dict(
        batch_size=32,
        drop_last=True,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(type='KvasirDataset', data_root='nowhere/')),
    train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=100),
    optim_wrapper=dict(
        constructor='PartwiseOptimWrapperConstructor',
        generator=dict(type='OptimWrapper',
                       optimizer=dict(type='AdamW', lr=1e-4)),
        discriminator=dict(type='OptimWrapper',
                           optimizer=dict(type='Adam', lr=2e-3))),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
             end=1, convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=100,
             convert_to_iter_based=True),
    ],
    auto_scale_lr=dict(base_batch_size=256),
    custom_hooks=[dict(type='MICSAlphaWarmupHook', warmup_epochs=1)],
)


def make_cfg(**changes):
    """BASE with top-level keys replaced (a copy)."""
    cfg = copy.deepcopy(BASE)
    cfg.update(copy.deepcopy(changes))
    return Config(cfg)


def loader(**changes):
    out = copy.deepcopy(BASE['train_dataloader'])
    out.update(changes)
    return out


def has_warning(report, text):
    return any(text in w for w in report['warnings'])


def test_epoch_based_drop_last():
    # DefaultSampler: ceil(2800 / 8) = 350 per rank; 350 // 32 = 10
    r = recipe_report(make_cfg(), 8, num_images=2800)
    assert r['kind'] == 'pretrain'  # MICS is a BaseSelfSupervisor
    assert (r['batch_per_gpu'], r['global_batch']) == (32, 256)
    assert (r['num_images'], r['samples_per_epoch']) == (2800, 2800)
    assert r['samples_per_gpu'] == 350
    assert r['steps_per_epoch'] == 10
    assert r['total_iters'] == r['optimizer_steps'] == 1000
    for name in ('generator', 'discriminator'):
        w = r['warmup'][name]
        assert (w['begin_iter'], w['end_iter'], w['iters']) == (0, 10, 10)
        assert w['epochs'] == 1
        assert [s['end_iter'] for s in r['schedulers'][name]] == [10, 1000]
    assert r['ramps'][0]['iters'] == 10  # MICSAlphaWarmupHook: 1 epoch
    assert has_warning(r, 'generator: warm-up (LinearLR) lasts 10 iter')
    assert has_warning(r, 'MICSAlphaWarmupHook: alpha warm-up lasts 10')
    assert has_warning(r, '1,000 optimizer steps in all (< 2,000 for '
                       'pre-training)')
    assert not has_warning(r, 'iterations an epoch')  # 10 is enough
    assert not has_warning(r, 'auto_scale_lr')         # factor 1
    text = format_recipe(r)
    assert 'steps / epoch     10 iterations (drop_last=True: 350 // 32)' \
        in text
    assert '100 epochs x 10 = 1,000 iterations' in text
    assert 'WARNINGS (4):' in text  # both optimizers' warm-ups


def test_epoch_based_ceil_and_padding():
    # without drop_last: ceil(350 / 32) = 11; 2801 images pad to 2808
    r = recipe_report(make_cfg(train_dataloader=loader(drop_last=False)),
                      8, num_images=2800)
    assert r['steps_per_epoch'] == 11 and r['total_iters'] == 1100
    r = recipe_report(make_cfg(), 8, num_images=2801)
    assert r['samples_per_gpu'] == 351 and r['steps_per_epoch'] == 10
    # round_up=False: rank 0 gets ceil(2801 / 8) = 351 as well
    r = recipe_report(make_cfg(train_dataloader=loader(
        sampler=dict(type='DefaultSampler', round_up=False))), 8,
        num_images=2801)
    assert r['samples_per_gpu'] == 351
    assert any('round_up=False' in n for n in r['notes'])


def test_long_schedule_no_warnings():
    # 5-epoch warm-up = 50 iterations, 300 epochs = 3,000 steps: nothing
    cfg = make_cfg(
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=300),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=True, begin=0, end=5,
                 convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', by_epoch=True, begin=5,
                 end=300, convert_to_iter_based=True)],
        custom_hooks=[dict(type='MICSAlphaWarmupHook', warmup_epochs=5)])
    r = recipe_report(cfg, 8, num_images=2800)
    assert r['warmup']['generator']['iters'] == 50
    assert r['optimizer_steps'] == 3000
    assert r['warnings'] == []
    assert 'No warnings.' in format_recipe(r)


def test_repeat_dataset_and_few_steps():
    # RepeatDataset(times=3): 8,400 samples, 1,050 per rank, 32 steps
    ds = dict(type='RepeatDataset', times=3,
              dataset=dict(type='KvasirDataset'))
    r = recipe_report(make_cfg(train_dataloader=loader(dataset=ds)), 8,
                      num_images=2800)
    assert (r['num_images'], r['samples_per_epoch']) == (2800, 8400)
    assert r['wrappers'] == ['RepeatDataset(times=3)']
    assert r['steps_per_epoch'] == 1050 // 32 == 32
    assert r['data_passes'] == 300
    # 280 images: 35 per rank, 1 step an epoch with drop_last
    r = recipe_report(make_cfg(), 8, num_images=280)
    assert r['steps_per_epoch'] == 1
    assert has_warning(r, '1 iterations an epoch (< 10)')
    # 30 images on 8 GPUs: 4 per rank < 32, no iteration at all
    r = recipe_report(make_cfg(), 8, num_images=30)
    assert r['steps_per_epoch'] == 0
    assert has_warning(r, 'no iteration at all')


def test_iter_based_accumulation_and_ramps():
    cfg = make_cfg(
        model=dict(type='ImageClassifier'),
        train_dataloader=loader(sampler=dict(type='InfiniteSampler')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1200),
        optim_wrapper=dict(type='OptimWrapper', accumulative_counts=4,
                           optimizer=dict(type='AdamW', lr=1e-3)),
        param_scheduler=[
            dict(type='LinearLR', by_epoch=False, begin=0, end=30),
            dict(type='PolyLR', by_epoch=False, begin=30, end=1000)],
        custom_hooks=[dict(type='MICSLambdaRampHook', ramp_fraction=0.5)])
    r = recipe_report(cfg, 2, num_images=640)
    assert r['kind'] == 'finetune'
    assert r['loop'] == 'iter' and r['total_iters'] == 1200
    assert r['optimizer_steps'] == 300  # 1,200 / 4 accumulated
    assert r['data_passes'] == 1200 * 64 / 640
    assert r['warmup']['optim_wrapper']['iters'] == 30
    assert r['ramps'][0]['iters'] == 600  # 0.5 x 1,200
    assert has_warning(r, 'warm-up (LinearLR) lasts 30 iterations')
    assert has_warning(r, '300 optimizer steps in all (< 500 for '
                       'fine-tuning)')
    assert has_warning(r, 'the lr schedule ends at iteration 1,000, before')
    assert not has_warning(r, 'iterations an epoch')  # not epoch-based


def test_param_scheduler_keyed_by_optimizer():
    cfg = make_cfg(param_scheduler=dict(
        generator=[dict(type='LinearLR', by_epoch=True, begin=0, end=6,
                        convert_to_iter_based=True)],
        discriminator=[]))
    r = recipe_report(cfg, 8, num_images=2800)
    assert r['warmup']['generator']['iters'] == 60
    assert r['warmup']['discriminator'] is None
    assert r['schedulers']['discriminator'] == []
    assert has_warning(r, 'generator: the lr schedule ends at iteration 60')
    # a missing optimizer name: mmengine fails to build it
    cfg = make_cfg(param_scheduler=dict(generator=[]))
    r = recipe_report(cfg, 8, num_images=2800)
    assert has_warning(r, "no 'discriminator' entry")


def test_epoch_scheduler_not_converted():
    cfg = make_cfg(param_scheduler=[
        dict(type='LinearLR', by_epoch=True, begin=0, end=2),
        dict(type='CosineAnnealingLR', by_epoch=True, begin=2, end=100)])
    r = recipe_report(cfg, 8, num_images=2800)
    w = r['warmup']['generator']
    assert (w['iters'], w['stepped']) == (20, 'epoch')
    assert 'per epoch' in format_recipe(r)


def test_auto_scale_lr():
    cfg = make_cfg(auto_scale_lr=dict(base_batch_size=16))
    r = recipe_report(cfg, 8, num_images=2800)
    assert r['auto_scale_lr'] == dict(base_batch_size=16, factor=16.0,
                                      applied=False)
    assert r['lr']['generator']['scaled_lr'] is None
    assert r['lr']['generator']['would_be'] == pytest.approx(1.6e-3)
    assert has_warning(r, 'would scale the lr by 16')
    assert 'not scaled (no --auto-scale-lr)' in format_recipe(r)
    r = recipe_report(cfg, 8, num_images=2800, auto_scale_lr=True)
    assert r['auto_scale_lr']['applied']
    assert r['lr']['discriminator']['scaled_lr'] == pytest.approx(3.2e-2)
    assert has_warning(r, 'auto_scale_lr scales the lr by 16')
    # 1 GPU x 32 against 256: x0.125 is still within /8
    r = recipe_report(make_cfg(), 1, num_images=2800, auto_scale_lr=True)
    assert r['auto_scale_lr']['factor'] == 0.125
    assert not has_warning(r, 'auto_scale_lr')
    r = recipe_report(make_cfg(), 1, num_images=2800,
                      thresholds=dict(lr_factor=4))
    assert has_warning(r, 'would scale the lr by 0.125')
    cfg = make_cfg(auto_scale_lr=None)
    with pytest.raises(ValueError, match='base_batch_size'):
        recipe_report(cfg, 8, num_images=2800, auto_scale_lr=True)


def test_brainmvp_phases():
    cfg = make_cfg(
        model=dict(type='BrainMVP'),
        custom_hooks=[dict(type='BrainMVPScheduleHook', cmr_start=3,
                           cl_start=150, by_epoch=True)])
    r = recipe_report(cfg, 8, num_images=2800)
    phases = [(p['start_iter'], p['end_iter']) for p in r['ramps']]
    assert phases == [(0, 30), (30, 1500), (1500, 1500)]
    assert has_warning(r, 'phase 1 (MD + MD views) lasts 30 iterations')
    assert has_warning(r, 'phase 3 (+ contrastive loss) starts at '
                       'iteration 1,500, after the last one (1,000)')


def test_built_dataset(tmp_path):
    """Without --num-images the config's training set is built from the
    data root (the demo config, SYNTHETIC data)."""
    root = tmp_path / 'kvasir'
    make_demo_kvasir(root, per_class=3, size=16)
    make_splits(str(root))
    with open(root / 'splits' / 'train.json') as f:
        n = len(json.load(f)['data_list'])
    cfg = Config.fromfile(DEMO_CFG)
    r = recipe_report(cfg, 1, data_root=str(root))
    assert r['num_images'] == r['samples_per_epoch'] == n
    assert r['num_images_source'] == f'built from {root}'
    batch = cfg.train_dataloader.batch_size
    drop = cfg.train_dataloader.get('drop_last', False)
    assert r['steps_per_epoch'] == (n // batch if drop else -(-n // batch))
    with pytest.raises(ValueError, match='--num-images'):
        recipe_report(Config.fromfile(DEMO_CFG), 1,
                      data_root=str(tmp_path / 'none'))


def test_tool_on_pretrain_kvasir(tmp_path, capsys):
    """The real config on 8 GPUs and Kvasir's 2,800 training images: 350
    per rank, ceil(350 / 32) = 11 steps an epoch (no drop_last)."""
    out = tmp_path / 'recipe.json'
    assert recipe_tool.main([
        PRETRAIN_KVASIR, '--gpus', '8', '--num-images', '2800', '--json',
        str(out)]) == 0
    text = capsys.readouterr().out
    cfg = Config.fromfile(PRETRAIN_KVASIR)
    assert 'batch             32 per GPU x 8 = 256 global' in text
    assert 'steps / epoch     11 iterations (drop_last=False: ' \
        'ceil(350 / 32))' in text
    report = json.loads(out.read_text())
    assert report['steps_per_epoch'] == 11
    if report['loop'] == 'epoch':
        total = cfg.train_cfg.max_epochs * 11
        assert f'= {total:,} iterations' in text
        assert report['total_iters'] == total
    assert report['config'] == PRETRAIN_KVASIR
    assert recipe_tool.main([PRETRAIN_KVASIR, '--gpus', '8',
                             '--auto-scale-lr', '--num-images', '2800']) == 0
    assert '(auto_scale_lr: x1 = 256 / 256)' in capsys.readouterr().out


def test_tool_errors(tmp_path, capsys):
    assert recipe_tool.main([str(tmp_path / 'no.py'), '--gpus', '8']) == 1
    assert 'not found' in capsys.readouterr().err
    # a misspelt --cfg-options key, as tools/train.py reports it
    assert recipe_tool.main([
        PRETRAIN_KVASIR, '--num-images', '10', '--cfg-options',
        'trian_cfg.max_epochs=2']) == 1
    assert 'trian_cfg' in capsys.readouterr().err
