"""tools/analysis/template_correlation.py and mics_mm.apis.template_report:
on a tiny synthetic BrainMVP checkpoint, a template equal to the mean image
correlates at r = 1, its negative at r = -1, noise at r ~ 0; a checkpoint
without templates fails naming the file and the key."""
import importlib.util
import json
import os.path as osp

import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mics_mm.apis.template_report import (mean_images_on_canvas,
                                          pipeline_head)
from mics_mm.structures import MRI_MODALITIES

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'template_correlation.py')
CANVAS = (24, 28, 20)
# Study shapes smaller than the canvas, different from each other, so
# PlaceOnCanvas centres them at different offsets.
SHAPES = ((20, 24, 16), (18, 26, 18), (22, 22, 14))


def load_tool():
    spec = importlib.util.spec_from_file_location('tool_template_corr', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()

CONFIG = f"""
default_scope = 'mics_mm'
canvas = {CANVAS}
train_pipeline = [
    dict(type='CachedCompose', transforms=[
        dict(type='LoadMRIStudy', reorient_ras=True),
        dict(type='PlaceOnCanvas', canvas=canvas),
        dict(type='ForegroundCrop', symmetric=True),
        dict(type='PercentileNormalize', low=5, high=95, clip=True,
             mask='box'),
        dict(type='ForegroundCrop', symmetric=True),
    ]),
    dict(type='SampleModalities', num=2),
    dict(type='RandomSlice2D', axis=2, min_foreground=0.05),
    dict(type='CropPad', size=(16, 16), mode='random'),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(type='RepeatDataset', times=3, dataset=dict(
        type='BrainMRIDataset', data_root='does/not/exist/',
        ann_file='pretrain.json', pipeline=train_pipeline)))
"""


def _blob(shape, rng, contrast):
    """A head-like ellipsoid with inner structure, zero outside."""
    grid = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape],
                       indexing='ij')
    radius = sum(g**2 for g in grid)
    inside = radius < 0.8
    inner = 1.0 + contrast * np.cos(3 * grid[0]) * np.sin(2 * grid[1])
    return (inside * (inner + 0.05 * rng.random(shape)) * 100).astype(
        np.float32)


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    """Data folder, config file and the mean images of a tiny study set."""
    root = tmp_path_factory.mktemp('tmpl')
    data = root / 'data'
    rng = np.random.default_rng(0)
    manifest = []
    for i, shape in enumerate(SHAPES):
        case = f'sub{i}'
        (data / case).mkdir(parents=True)
        images = {}
        for name, contrast in (('t1', 0.5), ('t2', -0.4), ('flair', 0.3)):
            path = f'{case}/{case}_{name}.nii.gz'
            nib.save(nib.Nifti1Image(_blob(shape, rng, contrast), np.eye(4)),
                     str(data / path))
            images[name] = path
        manifest.append(dict(case=case, images=images))
    (data / 'pretrain.json').write_text(json.dumps(manifest))
    config = root / 'pretrain_tiny.py'
    config.write_text(CONFIG)
    means, counts, canvas = mean_images_on_canvas(
        Config.fromfile(str(config)), str(data) + '/')
    return dict(root=root, data=str(data), config=str(config), means=means,
                counts=counts, canvas=canvas)


def _checkpoint(path, templates, config=None):
    state = {} if templates is None else {'templates.templates': templates}
    ckpt = dict(state_dict=state, meta={})
    if config is not None:
        ckpt['meta']['cfg'] = open(config).read()
    torch.save(ckpt, str(path))
    return str(path)


def test_pipeline_head_stops_before_random_tail():
    cfg = Config.fromstring(CONFIG, file_format='.py')
    head = pipeline_head(cfg.train_pipeline)
    assert [t['type'] for t in head] == [
        'LoadMRIStudy', 'PlaceOnCanvas', 'ForegroundCrop',
        'PercentileNormalize', 'ForegroundCrop'
    ]
    with pytest.raises(ValueError, match='PlaceOnCanvas'):
        pipeline_head([dict(type='LoadMRIStudy'), dict(type='CropPad')])


def test_mean_images_placed_as_in_training(study):
    means, counts, canvas = study['means'], study['counts'], study['canvas']
    assert canvas == CANVAS
    assert set(means) == {'t1', 't2', 'flair'}
    assert counts == {'t1': 3, 't2': 3, 'flair': 3}
    # Percentile-normalised (clipped to [0, 1]) and centred on the canvas:
    # nothing lies in the canvas border the smallest margins leave empty.
    for mean in means.values():
        assert mean.shape == CANVAS
        assert 0 <= mean.min() and mean.max() <= 1 + 1e-6
        assert mean[0].sum() == 0 and mean[-1].sum() == 0
        assert mean[:, :, 0].sum() == 0


def test_correlation_exact_negative_and_noise(study, tmp_path):
    means = study['means']
    templates = torch.zeros(len(MRI_MODALITIES), *CANVAS)
    rng = np.random.default_rng(1)
    templates[MRI_MODALITIES.index('t1')] = torch.from_numpy(
        3.0 * means['t1'] - 0.7)  # any positive affine map: r = 1
    templates[MRI_MODALITIES.index('t2')] = torch.from_numpy(-means['t2'])
    templates[MRI_MODALITIES.index('flair')] = torch.from_numpy(
        rng.standard_normal(CANVAS))
    ckpt = _checkpoint(tmp_path / 'tiny.pth', templates)
    out = tmp_path / 'r.json'
    montage = tmp_path / 'montage.png'
    assert tool.main([
        ckpt, '--data', study['data'], '--config', study['config'], '--out',
        str(out), '--montage', str(montage)
    ]) == 0
    report = json.loads(out.read_text())
    rows = report['modalities']
    assert list(rows) == ['flair', 't1', 't2']  # vocabulary order
    assert abs(rows['t1']['r'] - 1.0) < 1e-6
    assert abs(rows['t2']['r'] + 1.0) < 1e-6
    assert abs(rows['flair']['r']) < 0.1
    assert rows['t1']['voxels'] == int((means['t1'] != 0).sum())
    assert rows['t1']['studies'] == 3
    assert report['canvas'] == list(CANVAS)
    with Image.open(montage) as img:
        img.verify()


def test_config_read_from_checkpoint(study, tmp_path, capsys):
    templates = torch.zeros(len(MRI_MODALITIES), *CANVAS)
    templates[MRI_MODALITIES.index('t1')] = torch.from_numpy(
        study['means']['t1'])
    ckpt = _checkpoint(tmp_path / 'with_cfg.pth', templates, study['config'])
    out = tmp_path / 'r.json'
    assert tool.main([ckpt, '--data', study['data'], '--out', str(out)]) == 0
    table = capsys.readouterr().out
    assert 't1' in table and '1.000' in table
    # A never-trained (all-zero) template is constant: r is undefined
    # (nan in the table, null in the JSON).
    assert 'nan' in table
    rows = json.loads(out.read_text())['modalities']
    assert rows['t2']['r'] is None and rows['t2']['template_range'] == [0, 0]


def test_checkpoint_without_templates_errors(study, tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / 'no_templates.pth', None)
    assert tool.main(
        [ckpt, '--data', study['data'], '--config', study['config']]) == 1
    err = capsys.readouterr().err
    assert ckpt in err and "'templates.templates'" in err
    assert tool.main([str(tmp_path / 'missing.pth'), '--config',
                      study['config']]) == 1
    assert 'missing.pth' in capsys.readouterr().err


def test_canvas_mismatch_errors(study, tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / 'small.pth',
                       torch.zeros(len(MRI_MODALITIES), 8, 8, 8))
    assert tool.main(
        [ckpt, '--data', study['data'], '--config', study['config']]) == 1
    assert 'canvas' in capsys.readouterr().err
