"""tools/benchmark/gpu_check.sh: the prepared GPU check, run here as its
CPU smoke (``--smoke``), and its parts (mics_mm.benchmark.gpu_timing /
gpu_check)."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = 'tools/benchmark/gpu_check.sh'


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_timing_refuses_amp_on_cpu_and_cuda_without_gpu(capsys):
    from mics_mm.benchmark.gpu_timing import parse_args
    with pytest.raises(SystemExit):
        parse_args(['--device', 'cpu', '--amp', '--out', 'x.json'])
    assert 'AmpOptimWrapper does not run on the CPU' in \
        capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            parse_args(['--out', 'x.json'])  # --device cuda by default
        err = capsys.readouterr().err
        assert 'no CPU fallback' in err and str(torch.version.cuda) in err
    args = parse_args(['--device', 'cpu', '--smoke', '--out', 'x.json'])
    assert (args.batch, args.warmup, args.iters, args.queue_size) == (2, 1,
                                                                       2, 64)


@pytest.mark.parametrize('group', ['vit-base', 'resnet50'])
def test_timing_configs_full_size_and_smoke(group):
    """The full-size configs at the group's size (patches, decoder tokens)
    and the smoke edits keep every method's widths consistent."""
    from mics_mm.benchmark.gpu_timing import GROUPS, SMOKE, model_cfg
    for method in GROUPS[group]['configs']:
        model, optim, size = model_cfg(group, method, False, 1400)
        assert size == GROUPS[group]['size']
        if group == 'vit-base':
            assert model.backbone.img_size == 384
            assert model.backbone.arch in ('b', 'base')
            if method in ('mics', 'mae'):
                neck = model.recon_neck if method == 'mics' else model.neck
                assert neck.num_patches == 24 * 24
        else:
            assert model.backbone.depth == 50
        if method == 'mics':
            assert model.head.queue_size == 1400
            assert optim.constructor == 'PartwiseOptimWrapperConstructor'
        tiny, _, size = model_cfg(group, method, True, 64)
        assert size == SMOKE[group]['size']
        if group == 'vit-base':
            assert tiny.backbone.arch['embed_dims'] == 64
        else:
            assert tiny.backbone.depth == 18


def test_report_names_what_did_not_run(tmp_path):
    from mics_mm.benchmark.gpu_check import collect
    result = collect(str(tmp_path), 'smoke')
    assert not result['ok']
    assert 'timing: did not run' in result['failures']
    assert any(f.startswith('packaged_amp') for f in result['failures'])


def test_script_usage():
    proc = subprocess.run(['bash', SCRIPT, 'out', '--fast'], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 64 and 'usage' in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is usable')
def test_script_gpu_mode_stops_without_cuda(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(['bash', SCRIPT, str(tmp_path / 'out')], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    assert f'built for CUDA {torch.version.cuda}' in proc.stdout
    assert 'cannot use a GPU' in proc.stderr
    assert 'no CPU fallback' in proc.stderr
    assert not (tmp_path / 'out' / 'timing.json').exists()


@pytest.mark.slow
def test_gpu_check_smoke(tmp_path):
    """The whole script on the CPU (a few minutes on 2 shared cores)."""
    out = tmp_path / 'check'
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(['bash', SCRIPT, str(out), '--smoke'], cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=1500)
    assert proc.returncode == 0, (proc.stdout[-6000:] + proc.stderr[-3000:])
    result = json.loads((out / 'gpu_check.json').read_text())
    assert result['ok'] and result['mode'] == 'smoke'
    assert result['failures'] == []
    for key in ('environment', 'steps', 'timing', 'pretrain_dist',
                'finetune', 'test', 'packaged_amp', 'total_seconds'):
        assert key in result, key
    assert set(result['steps']) == {
        'timing', 'pretrain_dist', 'finetune', 'test', 'packaged_amp'
    }
    assert result['environment']['cuda_available'] is False
    groups = result['timing']['groups']
    assert set(groups) == {'vit-base', 'resnet50'}
    assert set(groups['vit-base']['methods']) == {'mics', 'mae', 'mocov3'}
    assert set(groups['resnet50']['methods']) == {'mics', 'simclr', 'byol'}
    for group in groups.values():
        for name, m in group['methods'].items():
            for key in ('s_per_iter', 'images_per_s', 'ratio', 'peak_mb',
                        'params_m', 'loss_last'):
                assert _finite(m[key]), (name, key, m[key])
            assert m['loss_finite'] and m['s_per_iter'] > 0
    pre = result['pretrain_dist']
    assert pre['backend'] == 'gloo' and pre['distributed']
    assert pre['iterations'] >= 1 and pre['losses_finite']
    assert pre['optim_wrappers'] == {
        'generator': 'OptimWrapper',
        'discriminator': 'OptimWrapper'
    }
    assert result['finetune']['losses_finite']
    metrics = result['test']['metrics']
    assert _finite(metrics['accuracy']) and _finite(metrics['f1_macro'])
    packaged = result['packaged_amp']
    assert packaged['ok'] and packaged['top_level_amp_applied']
    assert packaged['rc'] != 0  # AmpOptimWrapper needs a GPU
    md = (out / 'gpu_check.md').read_text()
    assert 'PASSED' in md and '| mics |' in md and 'gloo' in md
    assert (out / 'timing.md').is_file()
