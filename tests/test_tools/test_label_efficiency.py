"""tools/benchmark/label_efficiency.py (the command line over
:mod:`mics_mm.benchmark`) and its bookkeeping on a tiny run: files written,
table and plot produced, budgets equal across methods (and refused when
not). Nothing is timed and no figure is checked."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest

from mics_mm.benchmark import (QUICK, brain_fraction_manifest,
                               check_equal_budgets, plan)
from mics_mm.datasets.splits import make_splits
from mics_mm.testing.kvasir_demo import make_demo_kvasir

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'label_efficiency',
        osp.join(ROOT, 'tools/benchmark/label_efficiency.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_budgets_must_be_equal():
    same = {
        'mics_resnet18': dict(iters=14, batch_size=32, images_per_sample=2),
        'simclr_resnet18': dict(iters=14, batch_size=32, images_per_sample=2)
    }
    assert check_equal_budgets(same) == dict(
        iters=14, batch_size=32, samples_seen=448,
        images_seen=dict(mics_resnet18=896, simclr_resnet18=896))
    with pytest.raises(RuntimeError, match='unequal pre-training budgets'):
        check_equal_budgets(
            dict(same, byol_resnet18=dict(iters=7, batch_size=32)))
    # one image per sample where the others see two: refused, unless the
    # method is a single-modality variant by design
    wli = {'mae-wli_vit-tiny': dict(iters=14, batch_size=32,
                                    images_per_sample=1)}
    with pytest.raises(RuntimeError, match='unequal images seen'):
        check_equal_budgets(dict(same, **wli))
    budget = check_equal_budgets(dict(same, **wli), ('mae-wli', ))
    assert budget['images_seen']['mae-wli_vit-tiny'] == 448


def test_plan_skips_methods_without_a_config_for_the_backbone():
    pairs = {(p['method'], p['backbone']): p
             for p in plan('kvasir', ['mae', 'simclr', 'scratch'],
                           ['resnet18', 'vit-tiny'])}
    assert len(pairs) == 6
    assert 'skipped' in pairs[('mae', 'resnet18')]
    assert 'skipped' in pairs[('simclr', 'vit-tiny')]
    assert pairs[('simclr', 'resnet18')]['config'].startswith(
        'configs/baselines/simclr_resnet18')
    # scratch runs on both backbones, with nothing to pre-train
    assert pairs[('scratch', 'vit-tiny')] == dict(
        method='scratch', backbone='vit-tiny', config=None)


def test_cli_fills_the_quick_setting_and_refuses_bad_values():
    tool = load_tool()
    args = tool.parse_args([
        '--quick', '--methods', 'mae', 'simclr', '--backbones', 'resnet18',
        'vit-tiny', '--out', 'x'
    ])
    assert args.methods == ['mae', 'simclr']
    assert args.fractions == QUICK['kvasir']['fractions']
    assert args.finetune_iters == QUICK['kvasir']['finetune_iters']
    brain = tool.parse_args(['--task', 'brain-seg', '--out', 'x'])
    assert brain.methods == ['brainmvp', 'mae', 'scratch']
    for bad in (['--methods', 'dino'], ['--fractions', '0'],
                ['--resume', '--overwrite'],
                ['--task', 'brain-seg', '--protocols', 'linear']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad + ['--out', 'x'])


def test_cli_runs_as_a_script():
    """The tool imports the package, not a path: it starts as a script."""
    proc = subprocess.run(
        [sys.executable, 'tools/benchmark/label_efficiency.py', '--help'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '--resume' in proc.stdout and '--task' in proc.stdout


def test_tiny_run_writes_results_table_and_plot(tmp_path):
    tool = load_tool()
    data = tmp_path / 'demo'
    make_demo_kvasir(data, per_class=4, size=32, seed=0)
    make_splits(str(data), seed=0)
    out = tmp_path / 'out'
    result = tool.main([
        '--data',
        str(data), '--methods', 'simclr', 'scratch', '--backbones',
        'resnet18', '--fractions', '1.0', '--seeds', '0', '--protocols',
        'linear', '--pretrain-epochs', '1', '--pretrain-batch', '8',
        '--finetune-iters', '2', '--finetune-batch', '4', '--workers', '0',
        '--out',
        str(out)
    ])
    for name in ('results.json', 'results.md', 'results.png'):
        assert (out / name).is_file(), name
    saved = json.loads((out / 'results.json').read_text())
    assert saved['runs'] == result['runs']
    # SimCLR pre-trained for one epoch at batch 8; scratch fine-tuned only
    assert list(saved['pretrain']) == ['simclr_resnet18']
    pre = saved['pretrain']['simclr_resnet18']
    assert pre['epochs'] == 1 and pre['batch_size'] == 8
    assert saved['budget'] == dict(
        iters=pre['iters'], batch_size=8, samples_seen=8 * pre['iters'],
        images_seen=dict(simclr_resnet18=2 * 8 * pre['iters']))
    assert osp.isfile(pre['checkpoint'])
    assert [(r['method'], r['protocol'], r['fraction'], r['seed'], r['iters'])
            for r in saved['runs']] == [('simclr', 'linear', 1.0, 0, 2),
                                        ('scratch', 'linear', 1.0, 0, 2)]
    for run in saved['runs']:
        assert 0 <= run['metrics']['accuracy'] <= 1
    table = (out / 'results.md').read_text()
    assert '| simclr | resnet18 |' in table and '100 % labels' in table
    assert '| scratch | resnet18 |' in table
    # no fine-tuning checkpoints are kept (dozens of runs)
    assert not list((out / 'finetune').rglob('*.pth'))

    # A second run into the same folder is refused (the first run's
    # checkpoints stay); --resume reuses every finished job and gives the
    # same table; a finished job with other settings is an error.
    args = [
        '--data',
        str(data), '--methods', 'simclr', 'scratch', '--backbones',
        'resnet18', '--fractions', '1.0', '--seeds', '0', '--protocols',
        'linear', '--pretrain-epochs', '1', '--pretrain-batch', '8',
        '--finetune-batch', '4', '--workers', '0', '--out',
        str(out)
    ]
    ckpt = pre['checkpoint']
    stamp = osp.getmtime(ckpt)
    with pytest.raises(FileExistsError, match='--resume'):
        tool.main(args + ['--finetune-iters', '2'])
    resumed = tool.main(args + ['--finetune-iters', '2', '--resume'])
    assert osp.getmtime(ckpt) == stamp
    assert len(resumed['reused_jobs']) == 3
    assert resumed['runs'] == result['runs']
    assert resumed['summary'] == result['summary']
    with pytest.raises(RuntimeError, match='other settings'):
        tool.main(args + ['--finetune-iters', '3', '--resume'])


def test_brain_fraction_manifest_is_absolute(tmp_path, monkeypatch):
    """The labelled-subject manifest of --task brain-seg: the first
    ceil(fraction x pool) subjects (BrainWeb excluded), written under
    --out and named by an absolute path (the dataset would otherwise
    resolve it against data_root)."""
    data = tmp_path / 'brain'
    data.mkdir()
    pool = ['sub000', 'sub001', 'sub002', 'brainweb']
    (data / 'provenance.json').write_text(
        json.dumps(dict(splits=dict(pretrain=pool))))
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'out').mkdir()
    path = brain_fraction_manifest(str(data), 0.34, 'out')
    assert osp.isabs(path) and osp.isfile(path)
    items = json.loads(open(path).read())
    assert [i['case'] for i in items] == ['sub000', 'sub001']
    assert items[0]['images'] == {'t1': 'sub000/sub000_t1.nii.gz'}
    assert items[0]['label'] == 'sub000/sub000_seg.nii.gz'
