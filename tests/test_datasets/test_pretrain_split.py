"""Pre-training never sees a validation or test study: the BrainMVP
pre-training configs read pretrain.json and leave out the cases of
seg_val.json / seg_test.json (docs/data.md, "Writing the MRI splits")."""
import importlib.util
import json
import logging
import os
import os.path as osp

import nibabel as nib
import numpy as np
import pytest
from mmengine.config import Config

from mics_mm.datasets import BrainMRIDataset
from mics_mm.datasets import brain_mri
from mics_mm.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CONFIGS = [
    'configs/_base_/datasets/brats_brainmvp.py',
    'configs/_base_/datasets/brats_brainmvp_2d.py',
]
CASES = ['c1', 'c2', 'c3', 'c4', 'c5']


@pytest.fixture
def log(monkeypatch):
    """The dataset's log messages, as (level, message)."""
    messages = []
    monkeypatch.setattr(
        brain_mri, 'print_log',
        lambda msg, logger=None, level=logging.INFO: messages.append(
            (level, msg)))
    return messages


@pytest.fixture
def root(tmp_path):
    """Five BraTS-style studies on disk, all with labels."""
    data = tmp_path / 'brats'
    vol = np.zeros((4, 4, 4), np.float32)
    vol[1:3, 1:3, 1:3] = 1
    for case in CASES:
        (data / case).mkdir(parents=True)
        for mod in ('t1', 't2', 'seg'):
            nib.save(nib.Nifti1Image(vol, np.eye(4)),
                     str(data / case / f'{case}_{mod}.nii.gz'))
    return data


def _manifest(root, name, cases, label=False):
    items = []
    for case in cases:
        item = dict(case=case, images={
            m: f'{case}/{case}_{m}.nii.gz' for m in ('t1', 't2')})
        if label:
            item['label'] = f'{case}/{case}_seg.nii.gz'
        items.append(item)
    (root / name).write_text(json.dumps(items))


def _splits(root, pretrain=('c1', 'c2', 'c3')):
    _manifest(root, 'seg_val.json', ['c4'], label=True)
    _manifest(root, 'seg_test.json', ['c5'], label=True)
    if pretrain is not None:
        _manifest(root, 'pretrain.json', pretrain)


def _cases(dataset):
    return [dataset.get_data_info(i)['case'] for i in range(len(dataset))]


def _pretrain_cases(config, root):
    cfg = Config.fromfile(osp.join(ROOT, config))
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.update(data_root=str(root), pipeline=[])
    return _cases(DATASETS.build(ds_cfg))


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=osp.basename)
def test_pretrain_config_reads_pretrain_json(config, root, log):
    _splits(root)
    assert _pretrain_cases(config, root) == ['c1', 'c2', 'c3']
    (level, msg), = log
    assert level == logging.INFO
    assert str(root / 'pretrain.json') in msg and '3 studies' in msg


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=osp.basename)
def test_val_and_test_studies_never_pretrained_on(config, root, log):
    """Val / test cases exist on disk; however the split files look, the
    pre-training case list leaves them out."""
    held_out = {'c4', 'c5'}
    # a stale pretrain.json that lists a test case
    _splits(root, pretrain=('c1', 'c2', 'c5'))
    assert _pretrain_cases(config, root) == ['c1', 'c2']
    assert any(level == logging.WARNING and 'out of step' in msg
               and "'c5'" in msg for level, msg in log)
    # no pretrain.json: every folder is scanned, val / test left out
    os.remove(root / 'pretrain.json')
    log.clear()
    cases = _pretrain_cases(config, root)
    assert cases == ['c1', 'c2', 'c3'] and not held_out & set(cases)
    (level, msg), = log
    assert level == logging.WARNING and 'not found' in msg
    assert '2 left out' in msg and 'may be included' not in msg
    # no split file at all: all cases, and the log says val / test may be
    # among them
    os.remove(root / 'seg_val.json')
    os.remove(root / 'seg_test.json')
    log.clear()
    assert _pretrain_cases(config, root) == CASES
    (level, msg), = log
    assert level == logging.WARNING
    assert 'Validation / test studies may be included' in msg
    assert 'make_mri_splits.py' in msg


def test_make_mri_splits_then_pretrain(root, log):
    """The tool's split files, read by the pre-training config."""
    spec = importlib.util.spec_from_file_location(
        'make_mri_splits', osp.join(ROOT, 'tools/data/make_mri_splits.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(['--data-root', str(root), '--val', '0.2',
                      '--test', '0.2']) == 0

    def listed(name):
        return {i['case'] for i in json.load(open(root / name))}

    held_out = listed('seg_val.json') | listed('seg_test.json')
    assert len(held_out) == 2
    for config in PRETRAIN_CONFIGS:
        cases = set(_pretrain_cases(config, root))
        assert cases == listed('pretrain.json')
        assert not cases & held_out and cases | held_out == set(CASES)


def test_exclude_files_options_and_errors(root, log):
    # CSV exclude file, matched by image path (the case name differs)
    (root / 'held.csv').write_text(
        'case,modality,path\nother,t1,c2/c2_t1.nii.gz\n')
    ds = BrainMRIDataset(data_root=str(root), exclude_files='held.csv')
    assert _cases(ds) == ['c1', 'c3', 'c4', 'c5']
    assert "Excluded studies of: \t['held.csv']" in repr(ds)
    # a missing ann_file is an error unless missing_ann_file='scan'
    with pytest.raises(FileNotFoundError, match='pretrain.json'):
        BrainMRIDataset(data_root=str(root), ann_file='pretrain.json')
    ds = BrainMRIDataset(data_root=str(root), ann_file='pretrain.json',
                         missing_ann_file='scan')
    assert len(ds) == 5
    with pytest.raises(ValueError, match="'error' or 'scan'"):
        BrainMRIDataset(data_root=str(root), missing_ann_file='skip')
    # everything excluded: nothing to train on
    _manifest(root, 'all.json', CASES)
    with pytest.raises(ValueError, match='nothing is left'):
        BrainMRIDataset(data_root=str(root), exclude_files=['all.json'])
    (root / 'bad.json').write_text('{"case": 1}')
    with pytest.raises(ValueError, match='bad.json'):
        BrainMRIDataset(data_root=str(root), exclude_files=['bad.json'])


def test_brain_demo_config_leaves_out_its_val_and_test(root, log):
    _splits(root, pretrain=('c1', 'c4'))  # c4 is a val case
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/brain_demo_brainmvp_2d.py'))
    ds_cfg = cfg.train_dataloader.dataset.dataset.copy()
    ds_cfg.update(data_root=str(root), pipeline=[])
    assert _cases(DATASETS.build(ds_cfg)) == ['c1']
