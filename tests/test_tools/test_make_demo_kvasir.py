"""Tests of the SYNTHETIC demo-data generator (tools/data/make_demo_kvasir.py)
and of the simulated-NBI picture tool."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mics_mm.structures import KVASIR_CLASSES
from mics_mm.testing.kvasir_demo import (README_MARKER, DemoDataExistsError, is_synthetic_demo,
                                   make_demo_image, make_demo_kvasir)
from mics_mm.datasets.transforms import simulate_nbi

ROOT = Path(__file__).resolve().parents[2]
MAKE_DEMO = ROOT / 'tools' / 'data' / 'make_demo_kvasir.py'
VISUALIZE = ROOT / 'tools' / 'analysis' / 'visualize_simulated_nbi.py'


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob('*')) if p.is_file()
    }


def test_kvasir_layout_classes_and_counts(tmp_path):
    out = tmp_path / 'demo'
    info = make_demo_kvasir(out, per_class=5, size=32, seed=0)
    assert len(KVASIR_CLASSES) == 8
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(
        KVASIR_CLASSES)
    for name in KVASIR_CLASSES:
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == [f'{name}_{i:04d}.jpg' for i in range(5)]
        img = cv2.imread(str(out / name / files[0]))
        assert img.shape == (32, 32, 3)
    assert info['total'] == 40 and info['layout'] == 'kvasir'
    assert info['counts'] == {name: 5 for name in KVASIR_CLASSES}
    readme = (out / 'README.txt').read_text()
    assert readme.startswith(README_MARKER)
    assert 'SYNTHETIC' in readme and 'NOT real endoscopy' in readme
    assert 'tools/data/make_demo_kvasir.py --out' in readme
    assert is_synthetic_demo(out) and is_synthetic_demo(out / 'polyps')
    assert not is_synthetic_demo(tmp_path)


def test_deterministic_for_a_seed(tmp_path):
    make_demo_kvasir(tmp_path / 'a', per_class=3, size=32, seed=7)
    make_demo_kvasir(tmp_path / 'b', per_class=3, size=32, seed=7)
    make_demo_kvasir(tmp_path / 'c', per_class=3, size=32, seed=8)
    a, b, c = (_tree(tmp_path / n) for n in 'abc')
    images = [k for k in a if k.endswith('.jpg')]
    assert all(a[k] == b[k] for k in images)
    assert sum(a[k] != c[k] for k in images) == len(images)


def test_images_vary_and_classes_differ_in_colour():
    imgs = {
        label: [
            make_demo_image(label, 64, np.random.default_rng([0, label, i]))
            for i in range(8)
        ]
        for label in range(len(KVASIR_CLASSES))
    }
    # per-image variation within a class
    for label, group in imgs.items():
        assert not np.array_equal(group[0], group[1])
    # the blue dye of the two dyed classes: more blue than red on average

    def blueness(label):
        return np.mean([
            img[..., 0].astype(float).mean() - img[..., 2].mean()
            for img in imgs[label]
        ])

    dyed = [KVASIR_CLASSES.index('dyed-lifted-polyps'),
            KVASIR_CLASSES.index('dyed-resection-margins')]
    others = [i for i in range(len(KVASIR_CLASSES)) if i not in dyed]
    assert min(blueness(i) for i in dyed) > max(blueness(i) for i in others)


def test_paired_layout(tmp_path):
    out = tmp_path / 'paired'
    info = make_demo_kvasir(out, per_class=8, size=32, seed=0, paired=True)
    assert info['layout'] == 'paired'
    assert info['counts']['train'] == {n: 6 for n in KVASIR_CLASSES}
    assert info['counts']['test'] == {n: 2 for n in KVASIR_CLASSES}
    assert info['total'] == 2 * 8 * 8
    for split, n in (('train', 6), ('test', 2)):
        dirs = sorted(p.name for p in (out / split).iterdir())
        assert dirs == sorted([f'{c}_WLI' for c in KVASIR_CLASSES] +
                              [f'{c}_NBI' for c in KVASIR_CLASSES])
        for name in KVASIR_CLASSES:
            wli_files = sorted((out / split / f'{name}_WLI').iterdir())
            nbi_files = sorted((out / split / f'{name}_NBI').iterdir())
            assert [p.name for p in wli_files] == [
                f'{i:04d}.png' for i in range(n)
            ]
            assert [p.name for p in nbi_files] == [p.name for p in wli_files]
    wli = cv2.imread(str(out / 'train' / 'polyps_WLI' / '0000.png'))
    nbi = cv2.imread(str(out / 'train' / 'polyps_NBI' / '0000.png'))
    diff = np.abs(nbi.astype(float) - simulate_nbi(wli).astype(float))
    assert 0 < diff.mean() < 4  # simulated NBI plus small noise
    assert 'paired layout' in (out / 'README.txt').read_text()


def test_refuses_user_data_and_other_arguments(tmp_path):
    user = tmp_path / 'user'
    user.mkdir()
    (user / 'precious.jpg').write_bytes(b'real data')
    with pytest.raises(DemoDataExistsError, match='README'):
        make_demo_kvasir(user, per_class=2, size=32)
    assert [p.name for p in user.iterdir()] == ['precious.jpg']
    assert (user / 'precious.jpg').read_bytes() == b'real data'

    # a README without the marker does not count either
    (user / 'README.txt').write_text('my own notes')
    with pytest.raises(DemoDataExistsError):
        make_demo_kvasir(user, per_class=2, size=32)

    demo = tmp_path / 'demo'
    make_demo_kvasir(demo, per_class=2, size=32, seed=0)
    with pytest.raises(DemoDataExistsError, match='other arguments'):
        make_demo_kvasir(demo, per_class=3, size=32, seed=0)
    # a file in the way of --out
    (tmp_path / 'file').write_text('x')
    with pytest.raises(DemoDataExistsError):
        make_demo_kvasir(tmp_path / 'file', per_class=2, size=32)


def test_rerun_same_arguments_is_idempotent(tmp_path):
    out = tmp_path / 'demo'
    make_demo_kvasir(out, per_class=2, size=32, seed=3)
    before = _tree(out)
    make_demo_kvasir(out, per_class=2, size=32, seed=3)
    assert _tree(out) == before


def test_cli_main_prints_folder_and_counts(tmp_path, capsys):
    cli = _load_script(MAKE_DEMO)
    out = tmp_path / 'demo'
    assert cli.main(['--out', str(out), '--per-class', '3', '--size', '32'
                     ]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and 'SYNTHETIC' in printed
    assert re.search(r'Wrote 24 SYNTHETIC', printed)
    for name in KVASIR_CLASSES:
        assert f'{name}: 3' in printed
    (tmp_path / 'user').mkdir()
    (tmp_path / 'user' / 'x.txt').write_text('x')
    assert cli.main(['--out', str(tmp_path / 'user')]) == 1
    assert 'refusing' in capsys.readouterr().err


@pytest.mark.slow
def test_cli_subprocess_default_size_is_fast(tmp_path):
    out = tmp_path / 'demo'
    proc = subprocess.run(
        [sys.executable, str(MAKE_DEMO), '--out', str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120)
    assert proc.returncode == 0, proc.stderr
    seconds = float(re.search(r'in ([\d.]+) s', proc.stdout).group(1))
    assert seconds < 5  # 8 classes x 40 images at 64 px
    assert sum(1 for _ in out.rglob('*.jpg')) == 320


@pytest.mark.parametrize('paired', [False, True])
def test_visualize_simulated_nbi(tmp_path, paired):
    data = tmp_path / 'demo'
    make_demo_kvasir(data, per_class=2, size=48, paired=paired)
    tool = _load_script(VISUALIZE)
    samples = tool.find_samples(data, 3)
    assert len(samples) == 3
    assert all(('nbi' in paths) == paired for _, paths in samples)
    png = tmp_path / 'fig.png'
    tool.main(['--data', str(data), '--out', str(png), '--num', '3'])
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] > 100
    assert png.stat().st_size < 200 * 1024
