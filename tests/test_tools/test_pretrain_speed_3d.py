"""The uniformer3d group of tools/benchmark/pretrain_speed.py (BrainMVP 3D
step vs its floor, template memory and update times) on a tiny setting."""
import json
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.slow
def test_pretrain_speed_uniformer3d_group(tmp_path):
    out = tmp_path / 'bench3d.json'
    proc = subprocess.run([
        sys.executable, 'tools/benchmark/pretrain_speed.py', '--backbone',
        'uniformer3d', '--arch', 'tiny', '--size', '32', '--batch', '2',
        '--rounds', '1', '--iters', '1', '--warmup', '0', '--methods',
        'brainmvp', '--template-sizes', '32', '--out',
        str(out)
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result['reference'] == 'floor' and result['arch'] == 'tiny'
    assert set(result['methods']) == {'brainmvp', 'floor'}
    assert result['methods']['brainmvp']['ratio'] > 0
    assert 'brainmvp' in result['targets']
    mem = result['templates']['memory']
    assert mem['shape'] == [8, 240, 240, 155]
    assert mem['param_bytes'] == 8 * 240 * 240 * 155 * 4
    assert mem['total_bytes'] == 4 * mem['param_bytes']
    (row, ) = result['templates']['update']
    assert row['size'] == 32 and row['dense_update_s'] > 0
    assert row['lazy_update_s'] > 0
    table = (tmp_path / 'bench3d.md').read_text()
    assert 'x floor' in table and 'lazy AdamW' in table
