"""The parts of :mod:`mics_mm.benchmark` one at a time: tables, statistics,
reports, job configs, job records and data checks. Expected values are
worked out by hand; nothing is trained."""
import json
import math
import os
import os.path as osp
from argparse import Namespace

import pytest
import torch
from mmengine.config import Config

from mics_mm.benchmark import (QUICK, TASKS, Jobs, Settings,
                               check_equal_finetune_iters, finetune_cfg,
                               markdown, prepare_data, pretrain_cfg,
                               summarise, targets, write_reports)
from mics_mm.benchmark.config_edit import (epoch_schedule, has_templates,
                                           iter_schedule, set_loader)
from mics_mm.benchmark.report import wall_time_note

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run(method, fraction, seed, acc, protocol='linear', backbone='resnet18'):
    return dict(method=method, backbone=backbone, protocol=protocol,
                fraction=fraction, seed=seed, iters=2, seconds=1.0,
                metrics=dict(accuracy=acc))


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------
def test_every_table_config_exists_and_quick_methods_are_known():
    for name, table in TASKS.items():
        for method, per_backbone in table['pretrain'].items():
            for backbone, path in per_backbone.items():
                assert path is None or osp.isfile(osp.join(ROOT, path)), (
                    name, method, backbone)
            if method != 'scratch':
                assert method in table['images_per_sample'], method
        for key, path in table['finetune'].items():
            assert osp.isfile(osp.join(ROOT, path)), (name, key)
        assert set(QUICK[name]['methods']) <= set(table['pretrain'])
        assert table['ours'] in table['pretrain']


# --------------------------------------------------------------------------
# stats
# --------------------------------------------------------------------------
def test_summarise_mean_std_and_order():
    runs = [
        run('simclr', 0.1, 0, 0.5),
        run('simclr', 0.1, 1, 0.7),
        run('mics', 1.0, 0, 0.9),
        run('mics', 0.1, 0, 0.8, protocol='finetune'),
        dict(run('scratch', 0.1, 0, 0.0), metrics={}),  # no metric logged
    ]
    rows = summarise(runs, ['accuracy'])
    # sorted by protocol, backbone, method, fraction
    assert [(r['protocol'], r['method'], r['fraction']) for r in rows] == [
        ('finetune', 'mics', 0.1), ('linear', 'mics', 1.0),
        ('linear', 'scratch', 0.1), ('linear', 'simclr', 0.1)
    ]
    simclr = rows[3]
    assert simclr['n'] == 2
    assert simclr['accuracy_mean'] == pytest.approx(0.6)
    # sample std of (0.5, 0.7): sqrt((0.1^2 + 0.1^2) / 1)
    assert simclr['accuracy_std'] == pytest.approx(math.sqrt(0.02))
    assert rows[1]['accuracy_mean'] == 0.9 and rows[1]['accuracy_std'] == 0.0
    assert rows[2]['accuracy_mean'] is None and rows[2]['n'] == 1


def test_targets_margins_at_ten_percent():
    rows = summarise([
        run('mics', 0.1, 0, 0.80),
        run('simclr', 0.1, 0, 0.74),
        run('scratch', 0.1, 0, 0.70),
        run('simclr', 1.0, 0, 0.99),  # another fraction: not compared
        run('mics', 0.1, 0, 0.71, backbone='vit-tiny'),
        run('scratch', 0.1, 0, 0.68, backbone='vit-tiny'),
        run('mics', 0.1, 0, 0.5, protocol='finetune'),  # no baseline
    ], ['accuracy'])
    out = targets(rows, 'mics')
    assert set(out) == {'resnet18/linear', 'vit-tiny/linear'}
    r18 = out['resnet18/linear']
    assert r18['best_baseline'] == 'simclr'
    assert r18['best_baseline_value'] == pytest.approx(0.74)
    assert r18['margin_over_best'] == pytest.approx(0.06)
    assert r18['meets_best_baseline'] is True
    assert r18['margin_over_scratch'] == pytest.approx(0.10)
    assert r18['meets_scratch_plus_5'] is True
    vit = out['vit-tiny/linear']
    assert vit['best_baseline'] == 'scratch'
    assert vit['margin_over_scratch'] == pytest.approx(0.03)
    assert vit['meets_best_baseline'] is True
    assert vit['meets_scratch_plus_5'] is False
    # Dice rows (the brain task): the metric falls back to mDice
    dice = summarise([
        dict(run('brainmvp', 0.34, 0, 0), metrics=dict(mDice=0.6)),
        dict(run('mae', 0.34, 0, 0), metrics=dict(mDice=0.65)),
    ], ['mDice'])
    brain = targets(dice, 'brainmvp', fraction=0.34)['resnet18/linear']
    assert brain['best_baseline'] == 'mae'
    assert brain['margin_over_best'] == pytest.approx(-0.05)
    assert brain['meets_best_baseline'] is False
    assert 'meets_scratch_plus_5' not in brain


def test_unequal_finetune_iters_are_refused():
    check_equal_finetune_iters([run('a', 1.0, 0, 0.5)] * 2)
    check_equal_finetune_iters([])
    with pytest.raises(RuntimeError, match=r'fine-tuning budgets \[2, 3\]'):
        check_equal_finetune_iters(
            [run('a', 1.0, 0, 0.5),
             dict(run('b', 1.0, 0, 0.5), iters=3)])


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
META = dict(task='kvasir', command='python x.py', machine='m',
            finetune_iters=2, finetune_batch=4, seeds=[0, 1])


def test_markdown_table_cells():
    rows = summarise([
        run('simclr', 0.1, 0, 0.5),
        run('simclr', 0.1, 1, 0.7),
        run('mics', 1.0, 0, 0.9),
    ], ['accuracy'])
    text = markdown(rows, ['accuracy'], dict(iters=14), META)
    lines = text.splitlines()
    assert lines[0] == '# Label efficiency (kvasir)'
    assert 'Pre-training budget (every method): ' + str(dict(iters=14)) + \
        '  ' in lines
    assert 'Fine-tuning: 2 iterations x batch 4; seeds [0, 1]; ' \
        'mean +- std.' in lines
    start = lines.index('## linear: accuracy')
    assert lines[start + 2:start + 6] == [
        '| method | backbone | 10 % labels | 100 % labels |',
        '| --- | --- | --- | --- |',
        '| mics | resnet18 | - | 0.900 +- 0.000 |',
        '| simclr | resnet18 | 0.600 +- 0.141 | - |',
    ]


def test_write_reports_files_and_wall_time_note(tmp_path):
    # the task's metrics; F1 and AUC were not logged: '-'
    rows = summarise([run('simclr', 1.0, 0, 0.5)],
                     TASKS['kvasir']['metrics'])
    result = dict(meta=META, budget={}, pretrain={'simclr_resnet18': {}},
                  reused_jobs=['a'], runs=[run('simclr', 1.0, 0, 0.5)],
                  job_seconds=12.4, summary=rows, targets={}, seconds=20.6)
    note = wall_time_note(result)
    assert note == ('Wall time of this invocation: 21 s; the jobs\' own run '
                    'time: 12 s (1 of 2 jobs reused from an earlier '
                    'invocation with --resume).\n')
    paths = write_reports(result, str(tmp_path), 'title')
    assert paths == {k: str(tmp_path / f'results.{k}')
                     for k in ('json', 'md', 'png')}
    assert json.loads((tmp_path / 'results.json').read_text()) == result
    md = (tmp_path / 'results.md').read_text()
    assert md.endswith(note)
    assert '## linear: accuracy\n\n| method | backbone | 100 % labels |\n' \
        '| --- | --- | --- |\n| simclr | resnet18 | 0.500 +- 0.000 |' in md
    assert '## linear: f1_macro' in md and '| simclr | resnet18 | - |' in md
    assert (tmp_path / 'results.png').read_bytes()[:4] == b'\x89PNG'


# --------------------------------------------------------------------------
# config_edit
# --------------------------------------------------------------------------
def test_iter_schedule_warm_up_is_a_tenth():
    linear, cosine = iter_schedule(100)
    assert (linear['begin'], linear['end']) == (0, 10)
    assert (cosine['begin'], cosine['end']) == (10, 100)
    assert not linear['by_epoch'] and not cosine['by_epoch']
    assert iter_schedule(5)[0]['end'] == 1  # at least one iteration


def test_epoch_schedule_cut_to_the_epochs():
    cfg = Config(dict(param_scheduler=[
        dict(type='LinearLR', begin=0, end=5),
        dict(type='CosineAnnealingLR', begin=5, end=100, T_max=95),
        dict(type='MultiStepLR', begin=0, end=2),
    ]))
    epoch_schedule(cfg, 3)
    linear, cosine, step = cfg.param_scheduler
    assert (linear['begin'], linear['end']) == (0, 3)
    assert (cosine['begin'], cosine['end']) == (2, 3)
    assert 'T_max' not in cosine
    assert (step['begin'], step['end']) == (0, 2)  # ends in time: kept


def test_epoch_schedule_per_optimizer_lists():
    """MICS gives one list per optimizer wrapper; each is cut, and the
    discriminator's empty list (constant lr) stays empty."""
    cfg = Config(dict(param_scheduler=dict(
        generator=[dict(type='LinearLR', begin=0, end=1),
                   dict(type='CosineAnnealingLR', begin=1, end=100)],
        discriminator=[])))
    epoch_schedule(cfg, 3)
    linear, cosine = cfg.param_scheduler.generator
    assert (linear['begin'], linear['end']) == (0, 1)
    assert (cosine['begin'], cosine['end']) == (1, 3)
    assert cfg.param_scheduler.discriminator == []
    single = Config(dict(param_scheduler=dict(
        type='CosineAnnealingLR', begin=0, end=100)))
    epoch_schedule(single, 3)
    assert single.param_scheduler['end'] == 3


def test_epoch_schedule_leaves_iteration_schedulers_alone():
    """An iteration warm-up (by_epoch=False, as the full-size MICS
    schedule's) keeps its bounds; the epoch cosine beside it is cut."""
    cfg = Config(dict(param_scheduler=dict(
        generator=[dict(type='LinearLR', by_epoch=False, begin=0, end=100),
                   dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
                        end=100, convert_to_iter_based=True)],
        discriminator=[])))
    epoch_schedule(cfg, 3)
    warm, cosine = cfg.param_scheduler.generator
    assert (warm['begin'], warm['end']) == (0, 100)
    assert (cosine['begin'], cosine['end']) == (0, 3)


def test_pretrain_cfg_mics_keeps_discriminator_constant():
    path = TASKS['kvasir']['pretrain']['mics']['resnet18']
    cfg = pretrain_cfg(path, '/data/k', task='kvasir', epochs=3, batch=8,
                       workers=0, root=ROOT)
    assert set(cfg.param_scheduler) == {'generator', 'discriminator'}
    assert all(s['end'] <= 3 for s in cfg.param_scheduler.generator)
    assert cfg.param_scheduler.discriminator == []


def test_set_loader_looks_through_repeat_and_refuses_semi_supervised():
    cfg = Config(dict(train_dataloader=dict(
        batch_size=32, num_workers=8, persistent_workers=True,
        dataset=dict(type='RepeatDataset', times=2,
                     dataset=dict(type='KvasirDataset', data_root='old')))))
    set_loader(cfg, 'train_dataloader', 'new', 0, batch=4)
    loader = cfg.train_dataloader
    assert loader.dataset.dataset.data_root == 'new'
    assert 'data_root' not in loader.dataset
    assert (loader.batch_size, loader.num_workers,
            loader.persistent_workers) == (4, 0, False)
    set_loader(cfg, 'test_dataloader', 'new', 0)  # absent: nothing happens
    assert 'test_dataloader' not in cfg
    semi = Config(dict(train_dataloader=dict(
        dataset=dict(type='SemiSupervisedDataset'))))
    with pytest.raises(ValueError, match='semi-supervised'):
        set_loader(semi, 'train_dataloader', 'new', 0)


def test_pretrain_cfg_budget_and_safe_checkpoint():
    path = TASKS['kvasir']['pretrain']['simclr']['resnet18']
    cfg = pretrain_cfg(path, '/data/k', task='kvasir', epochs=3, batch=8,
                       workers=0, root=ROOT)
    loader = cfg.train_dataloader
    assert (loader.batch_size, loader.num_workers) == (8, 0)
    assert loader.dataset.data_root == '/data/k'
    assert loader.dataset.ann_file == 'splits/train.json'
    assert cfg.train_cfg.max_epochs == 3
    assert all(s['end'] <= 3 for s in cfg.param_scheduler)
    # the last epoch's checkpoint, loadable with weights_only=True
    assert cfg.default_hooks.checkpoint == dict(
        type='SafeCheckpointHook', interval=3, max_keep_ckpts=1)
    assert cfg.randomness == dict(seed=0, deterministic=False)
    brain = pretrain_cfg(
        TASKS['brain-seg']['pretrain']['brainmvp']['vit-tiny'], '/data/b',
        task='brain-seg', epochs=10, batch=4, workers=0, root=ROOT)
    hook = next(h for h in brain.custom_hooks
                if h['type'] == 'BrainMVPScheduleHook')
    assert hook['cl_start'] == 6  # (2 x 10) // 3
    assert hook['cmr_start'] == 2  # 10 // 5


def test_finetune_cfg_kvasir_fraction_iters_and_seed():
    path = TASKS['kvasir']['finetune'][('resnet18', 'linear')]
    cfg = finetune_cfg(path, '/data/k', task='kvasir', checkpoint='c.pth',
                       fraction=0.05, seed=3, iters=40, batch=4, workers=0,
                       root=ROOT)
    assert cfg.train_dataloader.dataset.ann_file == \
        'splits/train_labeled_5pct.json'
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.test_dataloader.dataset.data_root == '/data/k'
    assert cfg.train_dataloader.sampler.type == 'SeededInfiniteSampler'
    assert cfg.model.pretrained == 'c.pth'
    assert cfg.val_dataloader is None and cfg.val_cfg is None
    assert cfg.train_cfg == dict(type='IterBasedTrainLoop', max_iters=40,
                                 val_interval=41)
    assert [(s['begin'], s['end']) for s in cfg.param_scheduler] == [
        (0, 4), (4, 40)
    ]
    assert cfg.default_hooks.logger.interval == 8
    assert cfg.randomness == dict(seed=3, deterministic=False)
    assert all(h['type'] != 'RandomStateHook'
               for h in cfg.get('custom_hooks', []))


def test_finetune_cfg_brain_checkpoint_and_templates(tmp_path):
    path = TASKS['brain-seg']['finetune'][('vit-tiny', 'finetune')]
    ckpt = tmp_path / 'brainmvp.pth'
    torch.save(dict(state_dict={'templates.templates': torch.zeros(2)}),
               ckpt)
    kwargs = dict(task='brain-seg', fraction=0.34, seed=0, iters=10,
                  batch=2, workers=0, root=ROOT, train_ann='/m/seg.json')
    cfg = finetune_cfg(path, '/data/b', checkpoint=str(ckpt), **kwargs)
    assert cfg.train_dataloader.dataset.ann_file == '/m/seg.json'
    assert cfg.model.backbone.init_cfg == dict(
        type='InflatedPretrained', _scope_='mics_mm', checkpoint=str(ckpt),
        prefix='backbone.')
    assert cfg.model.data_preprocessor.templates == str(ckpt)
    scratch = finetune_cfg(path, '/data/b', checkpoint=None, **kwargs)
    assert scratch.model.backbone.init_cfg is None
    assert scratch.model.data_preprocessor.templates is None


def test_has_templates(tmp_path):
    with_t = tmp_path / 'with.pth'
    torch.save(dict(state_dict={'templates.templates': torch.zeros(2)}),
               with_t)
    without = tmp_path / 'without.pth'
    torch.save({'backbone.w': torch.zeros(2)}, without)
    assert has_templates(str(with_t)) is True
    assert has_templates(str(without)) is False


# --------------------------------------------------------------------------
# jobs (records only; nothing runs)
# --------------------------------------------------------------------------
def record(out, stage, name, key, result):
    work = out / stage / name
    work.mkdir(parents=True)
    (work / Jobs.RECORD).write_text(json.dumps(dict(key=key, result=result)))
    return str(work)


def test_jobs_refuse_reuse_and_overwrite(tmp_path):
    out = tmp_path / 'out'
    assert Jobs(str(out)).finished() == []  # an empty folder is fine
    ft = record(out, 'finetune', 'b', dict(seed=0), dict(iters=2))
    pre = record(out, 'pretrain', 'a', dict(epochs=1), dict(iters=7))
    (out / 'finetune' / 'unfinished').mkdir()  # no record: not finished
    with pytest.raises(FileExistsError, match='2 finished jobs'):
        Jobs(str(out))
    assert Jobs(str(out), overwrite=True).finished() == [pre, ft]
    jobs = Jobs(str(out), resume=True)
    assert jobs.run(None, pre, dict(epochs=1)) == dict(iters=7)
    assert jobs.reused == [pre]
    with pytest.raises(RuntimeError, match='other settings'):
        jobs.run(None, ft, dict(seed=1))


# --------------------------------------------------------------------------
# data, settings
# --------------------------------------------------------------------------
def test_prepare_data_refuses_a_missing_or_foreign_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        prepare_data('kvasir', str(tmp_path / 'none'), ROOT)
    with pytest.raises(FileNotFoundError, match='provenance.json'):
        prepare_data('brain-seg', str(tmp_path), ROOT)


def test_settings_from_namespace_takes_its_fields_only():
    args = Namespace(**QUICK['brain-seg'], task='brain-seg', out='o',
                     workers=0, resume=True, overwrite=False, data='d',
                     quick=True)
    settings = Settings.from_namespace(args)
    assert settings.task == 'brain-seg' and settings.resume is True
    assert settings.fractions == [0.34, 1.0]
    assert not hasattr(settings, 'data')


def test_jobs_report_progress_and_what_is_left(tmp_path, monkeypatch,
                                                capsys):
    """A long benchmark says where it is: job i of N, the elapsed time,
    and the mean time of the jobs run so far times the jobs left."""
    import mics_mm.benchmark.jobs as jobs_mod
    # Jobs() at 0; job 1 starts at 10 and runs 10 -> 40; job 2 starts at 70
    clock = iter([0.0, 10.0, 10.0, 40.0, 70.0, 70.0, 100.0])
    monkeypatch.setattr(jobs_mod.time, 'time', lambda: next(clock))
    def fake_job(cfg, work):
        os.makedirs(work)
        return dict(iters=1)

    monkeypatch.setattr(jobs_mod, 'run_job', fake_job)
    jobs = Jobs(str(tmp_path / 'out'), total=3)
    jobs.run(None, str(tmp_path / 'out' / 'pretrain' / 'a'), {})
    jobs.run(None, str(tmp_path / 'out' / 'finetune' / 'b'), {})
    lines = [ln for ln in capsys.readouterr().out.splitlines()
             if 'job' in ln]
    assert lines[0] == '[label_efficiency] job 1 of 3: a; elapsed 0:00:10'
    # second job starts at 70: 2 jobs left (this one too) x 30 s
    assert lines[1] == ('[label_efficiency] job 2 of 3: b; elapsed 0:01:10, '
                        'about 0:01:00 left')


def test_count_jobs_is_what_the_plan_runs():
    from mics_mm.benchmark.harness import count_jobs
    settings = Settings(**{**QUICK['kvasir'], 'task': 'kvasir', 'out': 'o',
                           'workers': 0, 'resume': False,
                           'overwrite': False})
    pairs = [dict(method='mics', backbone='resnet18', config='c'),
             dict(method='scratch', backbone='resnet18', config=None),
             dict(method='x', backbone='resnet18', skipped='why')]
    per_pair = len([p for p in settings.protocols
                    if ('resnet18', p) in TASKS['kvasir']['finetune']]) * \
        len(settings.fractions) * len(settings.seeds)
    assert count_jobs(settings, pairs) == 1 + 2 * per_pair
