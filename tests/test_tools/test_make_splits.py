"""Tests of the tools/data/make_splits.py command line."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'data', 'make_splits.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('make_splits_tool', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kvasir_tree(root, counts):
    for cls, n in counts.items():
        os.makedirs(osp.join(root, cls))
        for i in range(n):
            assert cv2.imwrite(
                osp.join(root, cls, f'{i:03d}.jpg'),
                np.full((8, 8, 3), i, np.uint8))
    return str(root)


def test_cli_writes_and_prints(tool, tmp_path, capsys):
    root = _kvasir_tree(tmp_path / 'kv', {'a': 10, 'b': 20})
    rc = tool.main(['--data-root', root, '--fractions', '10', '100',
                    '--seed', '3', '--verify'])
    assert rc == 0
    printed = capsys.readouterr().out
    assert 'kvasir layout, seed 3' in printed
    lines = {line.split()[0]: line.split()[1:] for line in printed.splitlines()
             if line.split() and line.split()[0] in ('a', 'b', 'total')}
    assert lines == {'a': ['7', '1', '2'], 'b': ['14', '2', '4'],
                     'total': ['21', '3', '6']}
    assert 'labelled subsets of train: 10%: 2, 100%: 21' in printed
    meta = json.load(open(osp.join(root, 'splits', 'splits_meta.json')))
    assert meta['seed'] == 3 and meta['fractions'] == [10.0, 100.0]
    assert '--seed 3' in meta['command']
    assert osp.isfile(osp.join(root, 'splits', 'train_unlabeled_10pct.json'))
    assert not osp.exists(
        osp.join(root, 'splits', 'train_unlabeled_100pct.json'))


def test_cli_out_and_force(tool, tmp_path, capsys):
    root = _kvasir_tree(tmp_path / 'kv', {'a': 10, 'b': 10})
    out = str(tmp_path / 'mysplits')
    args = ['--data-root', root, '--out', out, '--fractions', '50']
    assert tool.main(args) == 0
    assert osp.isfile(osp.join(out, 'test.json'))
    assert not osp.exists(osp.join(root, 'splits'))
    capsys.readouterr()
    assert tool.main(args + ['--seed', '1']) == 1
    err = capsys.readouterr().err
    assert osp.join(out, 'train.json') in err and '--force' in err
    before = open(osp.join(out, 'test.json')).read()
    assert tool.main(args + ['--seed', '1', '--force']) == 0
    assert open(osp.join(out, 'test.json')).read() != before


def test_cli_out_inside_data_root_is_not_a_class(tool, tmp_path):
    root = _kvasir_tree(tmp_path / 'kv', {'a': 10, 'b': 10})
    out = osp.join(root, 'other_splits')
    assert tool.main(['--data-root', root, '--out', out]) == 0
    # a second run must not read the output folder as a class folder
    assert tool.main(['--data-root', root, '--out', out, '--force']) == 0
    meta = json.load(open(osp.join(out, 'splits_meta.json')))
    assert meta['classes'] == ['a', 'b']


def test_cli_errors(tool, tmp_path, capsys):
    missing = str(tmp_path / 'missing')
    assert tool.main(['--data-root', missing]) == 1
    err = capsys.readouterr().err
    assert missing in err and 'datasets.simula.no/kvasir' in err
    root = _kvasir_tree(tmp_path / 'kv', {'a': 10, 'b': 2})
    assert tool.main(['--data-root', root]) == 1
    assert 'at least 3 per class' in capsys.readouterr().err
    bad = tmp_path / 'kv' / 'a' / '004.jpg'
    bad.write_bytes(b'broken')
    assert tool.main(['--data-root', root, '--test', '0', '--verify']) == 1
    assert str(bad) in capsys.readouterr().err
    assert not osp.exists(osp.join(root, 'splits'))


@pytest.mark.slow
def test_script_runs_as_command(tmp_path):
    root = _kvasir_tree(tmp_path / 'kv', {'a': 5, 'b': 5})
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--data-root', root, '--val', '0',
         '--fractions', '20'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'labelled subsets of train: 20%: 2' in proc.stdout
    assert sorted(os.listdir(osp.join(root, 'splits'))) == [
        'splits_meta.json', 'test.json', 'train.json',
        'train_labeled_20pct.json', 'train_unlabeled_20pct.json'
    ]
