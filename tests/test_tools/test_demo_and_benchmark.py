"""The demo drivers' helpers (:mod:`mics_mm.apis.demo`,
:mod:`mics_mm.apis.run_files`), that the drivers import, and a smoke run of
the speed benchmark (numbers are not checked: tests time nothing)."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest

from mics_mm.apis import (last_checkpoint, read_train_scalars, run_step,
                          summarise_losses)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(path):
    spec = importlib.util.spec_from_file_location('tool', osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_summary_first_last_and_last_epoch_mean():
    records = [
        dict(epoch=1, step=1, loss=9.0, loss_recon=5.0),
        dict(epoch=1, step=2, loss=8.0, loss_recon=4.0),
        dict(epoch=2, step=3, loss=6.0, loss_recon=3.0, loss_disc=0.7),
        dict(epoch=2, step=4, loss=4.0, loss_recon=1.0, loss_disc=0.5),
    ]
    out = summarise_losses(records)
    assert out['loss_first'] == 9.0 and out['loss_last'] == 4.0
    assert out['loss_last_epoch_mean'] == 5.0
    assert out['loss_recon_first'] == 5.0 and out['loss_recon_last'] == 1.0
    assert out['loss_disc_first'] == 0.7
    assert 'loss_consistency_first' not in out
    only = summarise_losses(records, ('loss_disc', 'loss_consistency'))
    assert only == dict(loss_disc_first=0.7, loss_disc_last=0.5,
                        loss_disc_last_epoch_mean=0.6)


def test_demo_reads_the_newest_scalars(tmp_path):
    for stamp, loss in (('20260101_000000', 1.0), ('20260102_000000', 2.0)):
        d = tmp_path / stamp / 'vis_data'
        d.mkdir(parents=True)
        (d / 'scalars.json').write_text(
            json.dumps(dict(loss=loss, step=1)) + '\n' +
            json.dumps(dict(lr=0.1, step=1)) + '\n')
    assert read_train_scalars(str(tmp_path)) == [dict(loss=2.0, step=1)]


def test_demo_last_checkpoint_relative_to_root(tmp_path):
    work = tmp_path / 'work_dirs' / 'demo'
    work.mkdir(parents=True)
    # mmengine writes the absolute path (its work_dir is made absolute)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth') + '\n')
    assert last_checkpoint('work_dirs/demo', str(tmp_path)) == osp.join(
        'work_dirs', 'demo', 'epoch_2.pth')
    # a relative pointer is relative to the folder the run ran in
    (work / 'last_checkpoint').write_text('work_dirs/demo/epoch_3.pth')
    assert last_checkpoint(str(work), str(tmp_path)) == osp.join(
        'work_dirs', 'demo', 'epoch_3.pth')


def test_demo_run_step_echoes_and_fails_loudly(tmp_path, capsys):
    run_step([sys.executable, '-c', 'open("made", "w").close()'],
             str(tmp_path))
    assert (tmp_path / 'made').is_file()
    assert capsys.readouterr().out.startswith('+ ' + sys.executable + ' -c')
    with pytest.raises(subprocess.CalledProcessError):
        run_step([sys.executable, '-c', 'raise SystemExit(3)'], str(tmp_path))


@pytest.mark.parametrize('tool', ['tools/demo.py', 'tools/demo_brainmvp.py'])
def test_demo_drivers_import_their_helpers_from_the_package(tool):
    module = load_tool(tool)
    assert module.ROOT == ROOT
    assert module.run_step is run_step
    assert module.last_checkpoint is last_checkpoint


@pytest.mark.slow
def test_pretrain_speed_smoke(tmp_path):
    from mics_mm.testing.kvasir_demo import make_demo_kvasir
    data = tmp_path / 'demo'
    make_demo_kvasir(data, per_class=2, size=32)
    out = tmp_path / 'bench.json'
    proc = subprocess.run([
        sys.executable, 'tools/benchmark/pretrain_speed.py', '--backbone',
        'resnet18', '--size', '32', '--batch', '2', '--rounds', '2',
        '--iters', '1', '--warmup', '1', '--queue-size', '64', '--data',
        str(data), '--workers', '0', '--loader-batches', '2', '--out',
        str(out)
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for key in ('mics_s_per_iter', 'simclr_s_per_iter', 'ratio',
                'loader_samples_per_s', 'step_samples_per_s'):
        assert result[key] > 0, key
    assert len(result['ratio_per_round']) == 2
    assert result['backbone'] == 'resnet18' and result['batch'] == 2
    assert result['consistency_from_masked'] is True  # the ResNet configs'
