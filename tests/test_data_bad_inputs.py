"""The bad-input corpus through the real loaders, transforms and tools.

``mics_mm.testing.bad_inputs.make_bad_inputs`` (``tools/data/
make_bad_inputs.py``) generates every case into a temporary folder; each is
either read as documented (``'handled'``) or refused early with a message
naming the file or key and the fix (``'error'``). Failed runs must not
touch an existing run's checkpoints. The table is in docs/reliability.md.
"""
import hashlib
import importlib.util
import json
import os.path as osp
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from mics_mm.datasets import BrainMRIDataset, KvasirDataset
from mics_mm.testing.bad_inputs import CASES, MARKER, make_bad_inputs
from mics_mm.datasets.layouts import verify_image_files
from mics_mm.datasets.transforms import LoadMultiModalImages
from mics_mm.datasets.transforms.loading import ImageLoadError
from mics_mm.datasets.transforms.mri_loading import LoadMRIStudy

REPO = Path(__file__).resolve().parents[1]
MICS_DEMO = str(REPO / 'configs/mics/pretrain_kvasir_demo.py')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'bad_inputs_tool_{name}', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    return make_bad_inputs(str(tmp_path_factory.mktemp('bad') / 'corpus'))


def _path(corpus, name):
    return corpus[name]['path']


def _load(path, **kwargs):
    return LoadMultiModalImages(**kwargs).transform(
        dict(img_path={'wli': path}, modalities=('wli', 'nbi')))


def test_corpus_lists_every_case(corpus):
    root = osp.dirname(_path(corpus, 'grayscale'))
    listed = json.loads(
        (Path(root).parent / 'cases.json').read_text())
    assert listed == corpus and set(corpus) == set(CASES)
    for name, case in corpus.items():
        assert osp.exists(case['path']), name
        assert case['expect'] in ('handled', 'error'), name
    # It never writes into a folder it did not write.
    other = Path(root).parent.parent / 'user_data'
    other.mkdir()
    (other / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not written by'):
        make_bad_inputs(str(other))
    assert (other / 'keep.txt').read_text() == 'mine'
    assert (Path(root).parent / 'README.txt').read_text().startswith(MARKER)


# ------------------------------------------------------------------ images
@pytest.mark.parametrize('name,fragment', [
    ('zero_byte_jpeg', 'is empty (0 bytes)'),
    ('truncated_jpeg', 'Cannot decode'),
    ('truncated_png', 'Cannot decode'),
    ('not_an_image', 'Cannot decode'),
])
def test_broken_image_fails_naming_the_file(corpus, name, fragment):
    path = _path(corpus, name)
    with pytest.raises(ImageLoadError) as err:
        _load(path)
    assert path in str(err.value) and fragment in str(err.value)
    assert 'make_splits.py' in str(err.value)  # the fix
    # ... and make_splits.py --verify finds it up front.
    with pytest.raises(ValueError, match=re.escape(path)):
        verify_image_files([path])


@pytest.fixture
def mics_pipeline():
    """The MICS demo training pipeline (built in mmpretrain's scope)."""
    cfg = Config.fromfile(MICS_DEMO)
    return Compose(cfg.train_dataloader.dataset.pipeline)


@pytest.mark.parametrize('name', ['grayscale', 'rgba', 'png_16bit', 'tiny'])
def test_unusual_image_is_read_as_documented(corpus, mics_pipeline, name):
    path = _path(corpus, name)
    img = _load(path)['img']['wli']
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    src = cv2.imread(_path(corpus, 'rgba'), cv2.IMREAD_UNCHANGED)
    if name == 'grayscale':  # three equal channels
        assert np.array_equal(img[..., 0], img[..., 1])
        assert np.array_equal(img[..., 0], img[..., 2])
    elif name == 'rgba':  # alpha (7 everywhere) dropped
        assert np.array_equal(img, src[..., :3])
    elif name == 'png_16bit':  # value * 257 decoded back to value
        assert np.array_equal(img, src[..., :3])
    else:
        assert img.shape == (2, 2, 3)
    # The whole MICS training pipeline: both modalities at 64 x 64.
    out = mics_pipeline(dict(img_path={'wli': path}, modalities=('wli',
                                                                 'nbi')))
    assert {k: tuple(v.shape)
            for k, v in out['inputs'].items()} == {
                'wli': (3, 64, 64),
                'nbi': (3, 64, 64)
            }


def test_huge_image_is_decoded_then_cropped(corpus):
    from mics_mm.datasets.transforms import SharedModalityTransforms
    loaded = _load(_path(corpus, 'huge'))
    assert loaded['img']['wli'].shape == (6000, 6000, 3)
    crop = SharedModalityTransforms(transforms=[
        dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.5, 1.))
    ])
    assert crop(loaded)['img']['wli'].shape == (64, 64, 3)


# ----------------------------------------------------------------- layouts
def test_wli_nbi_of_different_sizes(corpus):
    root = _path(corpus, 'wli_nbi_sizes_differ')
    ds = KvasirDataset(data_root=root, split='train')
    info = ds.get_data_info(0)
    with pytest.warns(UserWarning, match='resized to the wli size'):
        out = LoadMultiModalImages().transform(dict(info))
    assert out['img']['wli'].shape == out['img']['nbi'].shape == (64, 64, 3)
    with pytest.raises(ValueError) as err:
        LoadMultiModalImages(size_mismatch='error').transform(dict(info))
    for path in info['img_path'].values():
        assert path in str(err.value)


def test_unpaired_wli_nbi_names_fail(corpus):
    root = _path(corpus, 'unpaired_names')
    with pytest.raises(ValueError) as err:
        KvasirDataset(data_root=root, split='train')
    msg = str(err.value)
    for folder in ('polyps_WLI', 'polyps_NBI'):
        assert osp.join(root, 'train', folder) in msg
    assert '0002_wli.png' in msg and '0003_nbi.png' in msg
    assert "pairing='order'" in msg  # equal counts: the alternative


def test_non_image_files_in_class_folders_are_ignored(corpus):
    ds = KvasirDataset(
        data_root=_path(corpus, 'non_image_files'), split=None)
    assert len(ds) == 4 and ds.metainfo['classes'] == ('normal', 'polyps')
    assert all(
        ds.get_data_info(i)['img_path']['wli'].endswith('.jpg')
        for i in range(len(ds)))


@pytest.mark.parametrize('name,fragment', [
    ('empty_class_folder', 'contains no image files'),
    ('unknown_modality_kvasir', "modality 'xray'"),
    ('empty_split_file', 'has no samples'),
])
def test_bad_kvasir_inputs_fail_naming_the_path(corpus, name, fragment):
    path = _path(corpus, name)
    if path.endswith('.json'):
        kwargs = dict(data_root=osp.dirname(path), ann_file=path)
        named = path
    else:
        kwargs = dict(data_root=path, split=None)
        named = osp.join(path, 'polyps')
    with pytest.raises(ValueError) as err:
        KvasirDataset(**kwargs)
    assert fragment in str(err.value) and named in str(err.value)


# --------------------------------------------------------------------- MRI
def _study(corpus, name, mods=('t1', )):
    root = _path(corpus, name)
    return {m: osp.join(root, 'c1', f'c1_{m}.nii.gz') for m in mods}


def test_nifti_with_nan_is_repaired_or_refused(corpus):
    paths = _study(corpus, 'nifti_nan', ('t1', 't2'))
    with pytest.warns(UserWarning, match=re.escape(paths['t1'])):
        out = LoadMRIStudy().transform(dict(img_path=paths))
    assert out['img'].shape == (2, 12, 12, 8)
    assert np.isfinite(out['img']).all()
    with pytest.raises(ValueError, match=re.escape(paths['t1'])):
        LoadMRIStudy(nan_policy='error').transform(dict(img_path=paths))


def test_nifti_4d_singleton_is_squeezed(corpus):
    out = LoadMRIStudy().transform(
        dict(img_path=_study(corpus, 'nifti_4d_singleton')))
    assert out['img'].shape == (1, 12, 12, 8)


@pytest.mark.parametrize('name,error,fragment,mods', [
    ('nifti_2d', ValueError, 'not a 3D volume', ('t1', )),
    ('nifti_4d', ValueError, 'not a 3D volume', ('t1', )),
    ('nifti_truncated', OSError, 'cannot read NIfTI file', ('t1', )),
    ('modality_shapes_differ', ValueError, 'co-register', ('t1', 't2')),
])
def test_bad_nifti_fails_naming_the_file(corpus, name, error, fragment,
                                         mods):
    paths = _study(corpus, name, mods)
    with pytest.raises(error) as err:
        LoadMRIStudy().transform(dict(img_path=paths))
    assert fragment in str(err.value)
    for path in paths.values():
        assert path in str(err.value)


@pytest.mark.parametrize('name,fragment', [
    ('unknown_modality_mri', 'unknown MRI modality'),
    ('empty_manifest', 'lists no study'),
    ('empty_csv_manifest', 'case,modality,path'),
])
def test_bad_mri_datasets_fail_naming_the_path(corpus, name, fragment):
    path = _path(corpus, name)
    if osp.isfile(path):
        kwargs, named = dict(data_root=osp.dirname(path),
                             ann_file=path), path
    else:
        kwargs = dict(data_root=path)
        named = osp.join(path, 'c1', 'c1_t9.nii.gz')
    with pytest.raises(ValueError) as err:
        BrainMRIDataset(**kwargs)
    assert fragment in str(err.value) and named in str(err.value)


# ---------------------------------------------------- configs and tools
def test_failed_runs_leave_an_existing_run_intact(corpus, tmp_path):
    """Config typos, bad data and a missing --resume all fail before any
    checkpoint is written; the run already in the work dir is untouched."""
    train, test = _tool('train'), _tool('test')
    work = tmp_path / 'run'
    work.mkdir()
    torch.save(dict(meta=dict(epoch=1), state_dict={}), work / 'epoch_1.pth')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    before = {p.name: _sha(p) for p in work.iterdir()}
    resume = ['--work-dir', str(work), '--resume']

    with pytest.raises(SystemExit) as err:
        train.main([_path(corpus, 'config_top_level_typo'), *resume])
    assert "'trian_cfg'" in str(err.value)
    assert "did you mean 'train_cfg'" in str(err.value)
    assert _path(corpus, 'config_top_level_typo') in str(err.value)

    with pytest.raises(SystemExit) as err:
        train.main([_path(corpus, 'config_nested_typo'), *resume])
    assert "'model.backbone.dpeth'" in str(err.value)
    assert "did you mean 'depth'" in str(err.value)

    with pytest.raises(SystemExit) as err:  # tools/test.py checks too
        test.main([
            _path(corpus, 'config_nested_typo'),
            str(work / 'epoch_1.pth'), '--work-dir',
            str(tmp_path / 'test')
        ])
    assert "'model.backbone.dpeth'" in str(err.value)

    with pytest.raises(SystemExit) as err:  # a --cfg-options typo
        train.main([
            MICS_DEMO, *resume, '--cfg-options', 'trian_cfg.max_epochs=1'
        ])
    assert "did you mean 'train_cfg.max_epochs'" in str(err.value)

    with pytest.raises(SystemExit) as err:  # a list-style scheduler edit
        train.main([
            MICS_DEMO, *resume, '--cfg-options', 'param_scheduler.1.end=30'
        ])
    assert "param_scheduler.1: the schedulers are given per optimizer " \
        "wrapper (discriminator, generator)" in str(err.value)
    assert 'param_scheduler.generator.1' in str(err.value)

    with pytest.raises(ValueError) as err:  # bad data, found at build
        train.main([
            MICS_DEMO, *resume, '--cfg-options',
            f'train_dataloader.dataset.data_root='
            f'{_path(corpus, "unpaired_names")}',
            'train_dataloader.dataset.ann_file=',
            'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False'
        ])
    assert 'do not pair by name' in str(err.value)

    with pytest.raises(SystemExit, match='--resume'):  # a new run
        train.main([MICS_DEMO, '--work-dir', str(work)])

    after = {
        p.name: _sha(p)
        for p in work.iterdir() if p.name in before
    }
    assert after == before
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_1.pth']


def test_make_bad_inputs_command_line(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'make_bad_inputs_tool', REPO / 'tools/data/make_bad_inputs.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'corpus'
    assert tool.main(['--out', str(out), '--huge', '64', '--table']) == 0
    printed = capsys.readouterr().out
    assert f'Wrote {len(CASES)} bad-input cases' in printed
    assert '| `truncated_jpeg` | error |' in printed
    assert cv2.imread(str(out / 'images/huge.jpg')).shape == (64, 64, 3)
    assert tool.main(['--out', str(out)]) == 0  # its own corpus: rewritten
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'data.txt').write_text('x')
    assert tool.main(['--out', str(tmp_path / 'other')]) == 1
