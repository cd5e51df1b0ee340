"""tools/demo.py's summary bookkeeping and a smoke run of the speed benchmark
(numbers are not checked: tests time nothing)."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(path):
    spec = importlib.util.spec_from_file_location('tool', osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_summary_first_last_and_last_epoch_mean():
    demo = load_tool('tools/demo_common.py')
    records = [
        dict(epoch=1, step=1, loss=9.0, loss_recon=5.0),
        dict(epoch=1, step=2, loss=8.0, loss_recon=4.0),
        dict(epoch=2, step=3, loss=6.0, loss_recon=3.0, loss_disc=0.7),
        dict(epoch=2, step=4, loss=4.0, loss_recon=1.0, loss_disc=0.5),
    ]
    out = demo.summarise_losses(records)
    assert out['loss_first'] == 9.0 and out['loss_last'] == 4.0
    assert out['loss_last_epoch_mean'] == 5.0
    assert out['loss_recon_first'] == 5.0 and out['loss_recon_last'] == 1.0
    assert out['loss_disc_first'] == 0.7
    assert 'loss_consistency_first' not in out


def test_demo_reads_the_newest_scalars(tmp_path):
    demo = load_tool('tools/demo_common.py')
    for stamp, loss in (('20260101_000000', 1.0), ('20260102_000000', 2.0)):
        d = tmp_path / stamp / 'vis_data'
        d.mkdir(parents=True)
        (d / 'scalars.json').write_text(
            json.dumps(dict(loss=loss, step=1)) + '\n' +
            json.dumps(dict(lr=0.1, step=1)) + '\n')
    assert demo.read_scalars(str(tmp_path)) == [dict(loss=2.0, step=1)]


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
