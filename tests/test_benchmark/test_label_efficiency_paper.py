"""``tools/benchmark/label_efficiency.py --scale paper`` (the full-size
configs), ``--gpus N`` (jobs as ``tools/train.py`` / ``tools/dist_train.sh``
commands) and ``--dry-run``, on the CPU: the commands are listed, checked
and, with a stand-in for the subprocess, "run"; nothing is trained."""
import importlib.util
import json
import os.path as osp
import shlex
import sys

import pytest
import torch
from mmengine.config import Config

from mics_mm.benchmark import (KVASIR_PAPER, PAPER, QUICK, Settings,
                               job_commands, plan, prepare_data,
                               run_commands, task_table)
from mics_mm.datasets.splits import make_splits
from mics_mm.testing.kvasir_demo import make_demo_kvasir

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FULL_SIZE = {
    'resnet50': dict(type='ResNet', depth=50, px=224),
    'vit-base': dict(type='VisionTransformer', arch='b', px=384),
}


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'label_efficiency_paper',
        osp.join(ROOT, 'tools/benchmark/label_efficiency.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return load_tool()


@pytest.fixture(scope='module')
def kvasir(tmp_path_factory):
    """A tiny Kvasir-layout folder with its splits (1, 5, 10, 20, 50 and
    100 % labelled subsets)."""
    root = tmp_path_factory.mktemp('paper') / 'kvasir'
    make_demo_kvasir(root, per_class=4, size=32, seed=0)
    make_splits(str(root), seed=0)
    return str(root)


def _config_of(command):
    """The name of the config a job command runs (dumped into the job's
    work dir under the name of the config it derives from)."""
    return osp.basename(command[2])


# --------------------------------------------------------------------------
# the paper table
# --------------------------------------------------------------------------
def test_paper_table_names_full_size_configs():
    table = task_table('kvasir', 'paper')
    assert table is KVASIR_PAPER
    assert set(PAPER['kvasir']['methods']) <= set(table['pretrain'])
    for method, per_backbone in table['pretrain'].items():
        assert set(per_backbone) <= set(FULL_SIZE), method
        for backbone, path in per_backbone.items():
            if path is None:
                continue
            assert osp.isfile(osp.join(ROOT, path)), path
            assert '8xb32-coslr-100e' in path, path
            assert f'{FULL_SIZE[backbone]["px"]}px' in path, path
    for (backbone, protocol), path in table['finetune'].items():
        cfg = Config.fromfile(osp.join(ROOT, path))
        want = FULL_SIZE[backbone]
        assert cfg.model.backbone.type == want['type']
        assert cfg.model.backbone.get('depth', cfg.model.backbone.get(
            'arch')) == want.get('depth', want.get('arch'))
        assert f'{want["px"]}px' in path and '8xb32' in path
        assert ('-linear-' in path) == (protocol == 'linear'), path
        assert cfg.train_cfg.type == 'IterBasedTrainLoop'
        assert cfg.train_cfg.max_iters == 1000
    # no budget of the demo: every value comes from the configs
    for key in ('pretrain_epochs', 'pretrain_batch', 'finetune_iters',
                'finetune_batch'):
        assert PAPER['kvasir'][key] is None
    with pytest.raises(KeyError, match='no task'):
        task_table('brain-seg', 'paper')
    pairs = {(p['method'], p['backbone']): p
             for p in plan('kvasir', ['mae', 'byol'],
                           ['resnet50', 'vit-base'], 'paper')}
    assert 'skipped' in pairs[('mae', 'resnet50')]
    assert 'skipped' in pairs[('byol', 'vit-base')]


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
def test_demo_stays_the_default(tool):
    args = tool.parse_args(['--out', 'x'])
    assert (args.scale, args.gpus, args.dry_run) == ('demo', 1, False)
    assert args.workers == 2
    for key, value in QUICK['kvasir'].items():
        assert getattr(args, key) == value, key
    settings = Settings.from_namespace(args)
    assert settings.as_commands is False  # jobs run in this process


def test_paper_defaults_and_refusals(tool):
    args = tool.parse_args(['--scale', 'paper', '--gpus', '8', '--out', 'x'])
    assert args.methods == PAPER['kvasir']['methods']
    assert args.backbones == ['resnet50', 'vit-base']
    assert args.pretrain_epochs is None and args.finetune_iters is None
    assert args.pretrain_batch is None and args.finetune_batch is None
    assert args.workers is None  # each config's
    assert Settings.from_namespace(args).as_commands is True
    for bad in (['--quick'], ['--task', 'brain-seg'], ['--gpus', '0'],
                ['--methods', 'simclr-wli']):
        with pytest.raises(SystemExit):
            tool.parse_args(['--scale', 'paper', '--out', 'x'] + bad)


def test_paper_without_its_data_fails_clearly(tool, tmp_path, capsys):
    with pytest.raises(SystemExit, match='does not exist') as err:
        tool.main(['--scale', 'paper', '--data', str(tmp_path / 'none'),
                   '--out', str(tmp_path / 'out')])
    assert 'datasets.simula.no/kvasir' in str(err.value)
    assert 'make_splits.py' in str(err.value)
    assert not (tmp_path / 'out').exists()
    # the default folder (data/kvasir under the repository) is never made
    with pytest.raises(FileNotFoundError, match='--scale paper'):
        prepare_data('kvasir', None, str(tmp_path), scale='paper')
    assert not (tmp_path / 'data').exists()


def test_a_fraction_without_its_split_file_fails_early(tool, kvasir,
                                                       tmp_path):
    with pytest.raises(SystemExit, match=r'--fractions 2 --force'):
        tool.main(['--scale', 'paper', '--dry-run', '--data', kvasir,
                   '--fractions', '0.02', '--out', str(tmp_path / 'o')])


# --------------------------------------------------------------------------
# dry run
# --------------------------------------------------------------------------
def test_paper_dry_run_lists_dist_train_commands(tool, kvasir, tmp_path,
                                                 capsys):
    out = tmp_path / 'out'
    result = tool.main([
        '--scale', 'paper', '--gpus', '8', '--dry-run', '--data', kvasir,
        '--fractions', '0.05', '0.1', '--seeds', '0', '--out', str(out)
    ])
    assert result['dry_run'] is True
    assert not out.exists()  # nothing written
    jobs = result['jobs']
    # 9 (method, backbone) pairs: 7 pre-trainings (scratch has none), then
    # 9 x 2 protocols x 2 fractions x 1 seed fine-tunings
    pre = [j for j in jobs if '/pretrain/' in j['work_dir']]
    fine = [j for j in jobs if '/finetune/' in j['work_dir']]
    assert (len(pre), len(fine), len(jobs)) == (7, 36, 43)
    full_size = set(KVASIR_PAPER['finetune'].values()) | {
        p for m in KVASIR_PAPER['pretrain'].values() for p in m.values() if p
    }
    for job in jobs:
        assert job['config'] in full_size, job['config']
        train = job['commands'][0]
        assert train[:2] == ['bash', 'tools/dist_train.sh']
        assert train[3] == '8'
        assert _config_of(train) == osp.basename(job['config'])
        assert train[train.index('--work-dir') + 1] == job['work_dir']
        assert osp.isabs(job['work_dir'])
    for job in pre:  # the configs' own budgets, not the demo's
        assert len(job['commands']) == 1  # no test loop
        options = job['commands'][0]
        assert 'train_cfg.max_epochs=100' in options
        assert 'train_dataloader.batch_size=32' in options
        assert f'train_dataloader.dataset.data_root={kvasir}' in options
    for job in fine:
        train, test = job['commands']
        tag = osp.basename(job['work_dir'])
        pct = {'0.05': '5', '0.1': '10'}[tag.split('_')[-2]]
        assert ('train_dataloader.dataset.ann_file='
                f'splits/train_labeled_{pct}pct.json') in train
        assert 'randomness.seed=0' in train
        ckpt = [o for o in train if o.startswith('model.pretrained=')]
        if tag.startswith('scratch_'):
            assert ckpt == ['model.pretrained=None']
        else:
            assert ckpt[0].endswith('/epoch_100.pth')
        assert test[:2] == ['bash', 'tools/dist_test.sh']
        assert test[3].endswith('/iter_1000.pth') and test[4] == '8'
        assert '-linear-' in job['config'] or '_finetune_' in tag
    printed = capsys.readouterr().out
    assert '[label_efficiency] job 1 of 43: mics_resnet50' in printed
    assert '[label_efficiency] job 43 of 43: ' in printed
    assert printed.count('bash tools/dist_train.sh') == 43
    assert 'none run' in printed


def test_paper_dry_run_on_one_gpu_uses_train_py(tool, kvasir, tmp_path):
    result = tool.main([
        '--scale', 'paper', '--dry-run', '--data', kvasir, '--methods',
        'mics', '--backbones', 'vit-base', '--fractions', '1.0', '--seeds',
        '1', '--protocols', 'linear', '--out', str(tmp_path / 'out')
    ])
    (pre, fine) = result['jobs']
    assert pre['commands'][0][:2] == [sys.executable, 'tools/train.py']
    assert _config_of(pre['commands'][0]) == \
        'mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'
    train, test = fine['commands']
    assert _config_of(train) == ('vit-base-p16_mics-pre_8xb32-linear-coslr-'
                                 '1000it_kvasir-10pct-384px.py')
    assert 'train_dataloader.dataset.ann_file=splits/train_labeled_100pct' \
        '.json' in train and 'randomness.seed=1' in train
    assert test[:2] == [sys.executable, 'tools/test.py']


def test_demo_dry_run_runs_in_this_process(tool, kvasir, tmp_path, capsys):
    result = tool.main([
        '--dry-run', '--data', kvasir, '--methods', 'simclr', '--backbones',
        'resnet18', '--fractions', '1.0', '--seeds', '0', '--protocols',
        'linear', '--out', str(tmp_path / 'out')
    ])
    assert [j['commands'] for j in result['jobs']] == [[], []]
    assert result['jobs'][0]['config'] == \
        'configs/baselines/simclr_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
    printed = capsys.readouterr().out
    assert '(in this process)' in printed and 'job 2 of 2' in printed
    assert 'train_cfg.max_epochs=10' in printed  # the quick budget
    assert not (tmp_path / 'out').exists()


# --------------------------------------------------------------------------
# jobs as commands
# --------------------------------------------------------------------------
def _finetune_job_cfg(root=ROOT):
    from mics_mm.benchmark import finetune_cfg
    return finetune_cfg(
        KVASIR_PAPER['finetune'][('resnet50', 'linear')], '/data/k',
        task='kvasir', checkpoint='/c.pth', fraction=0.1, seed=2,
        iters=None, batch=None, workers=None, root=root)


def test_paper_finetune_job_keeps_the_config_budget():
    cfg = _finetune_job_cfg()
    assert cfg.train_cfg.max_iters == 1000
    assert cfg.train_dataloader.batch_size == 32
    # the config's own schedule (100-iteration warm-up), workers kept
    assert [(s['begin'], s['end']) for s in cfg.param_scheduler] == [
        (0, 100), (100, 1000)
    ]
    assert cfg.train_dataloader.num_workers == 8
    assert cfg.train_dataloader.dataset.ann_file == \
        'splits/train_labeled_10pct.json'


def test_job_commands_single_and_distributed():
    cfg = _finetune_job_cfg()
    one = job_commands(cfg, '/w', 1, {'randomness.seed': 2}, python='py')
    assert one == [
        ['py', 'tools/train.py',
         '/w/resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py',
         '--work-dir', '/w', '--overwrite', '--cfg-options',
         'randomness.seed=2'],
        ['py', 'tools/test.py',
         '/w/resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py',
         '/w/iter_1000.pth', '--work-dir', '/w', '--out',
         '/w/test_metrics.json'],
    ]
    two = job_commands(cfg, '/w', 2, python='py')
    assert two[0][:4] == ['bash', 'tools/dist_train.sh', one[0][2], '2']
    assert '--cfg-options' not in two[0]
    assert two[1][:5] == ['bash', 'tools/dist_test.sh', one[1][2],
                          '/w/iter_1000.pth', '2']


def test_run_commands_dumps_runs_and_collects(tmp_path, monkeypatch):
    """With the subprocess replaced: the edited config is dumped into the
    work dir and is what the commands name; the distributed scripts get
    this interpreter; iterations come from the last checkpoint, metrics
    from test_metrics.json; the fine-tuning checkpoint is then deleted."""
    import mics_mm.benchmark.jobs as jobs_mod
    cfg = _finetune_job_cfg()
    work = str(tmp_path / 'job')
    calls = []

    def fake_call(command, cwd, env):
        calls.append((command, cwd, env['PYTHON']))
        if 'tools/dist_train.sh' in command:
            # the dumped config is the job's (every edit), saving the last
            # checkpoint for the test
            dumped = Config.fromfile(command[2])
            assert dumped.train_dataloader.dataset.data_root == '/data/k'
            assert dumped.model.pretrained == '/c.pth'
            assert dumped.default_hooks.checkpoint.save_last is True
            torch.save(dict(meta=dict(iter=1000), state_dict={}),
                       osp.join(work, 'iter_1000.pth'))
        else:
            with open(osp.join(work, 'test_metrics.json'), 'w') as f:
                json.dump({'accuracy': 0.5, 'confusion': [[1]]}, f)
        return 0

    monkeypatch.setattr(jobs_mod.subprocess, 'call', fake_call)
    result = run_commands(cfg, work, 2, ROOT, {'randomness.seed': 2})
    assert result['iters'] == 1000
    assert result['metrics'] == {'accuracy': 0.5}
    assert [c[0][1] for c in calls] == ['tools/dist_train.sh',
                                        'tools/dist_test.sh']
    assert all(cwd == ROOT and py == sys.executable for _, cwd, py in calls)
    assert 'randomness.seed=2' in calls[0][0]
    assert not osp.exists(osp.join(work, 'iter_1000.pth'))

    def failing(command, cwd, env):
        return 3

    monkeypatch.setattr(jobs_mod.subprocess, 'call', failing)
    with pytest.raises(RuntimeError, match='exited with status 3'):
        run_commands(cfg, work, 2, ROOT)


def test_show_command_names_the_interpreter():
    from mics_mm.benchmark.jobs import show_command
    line = show_command(['bash', 'tools/dist_train.sh', 'a b.py', '8'],
                        python='/x/python')
    assert line == "PYTHON=/x/python bash tools/dist_train.sh 'a b.py' 8"
    assert shlex.split(line)[1:] == ['bash', 'tools/dist_train.sh',
                                     'a b.py', '8']
