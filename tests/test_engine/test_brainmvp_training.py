"""BrainMVP through tools/train.py and mmpretrain's packaged train.py on tiny
generated NIfTI studies (one of them single-modality)."""
import os
import os.path as osp
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch

import mmpretrain

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/brainmvp/pretrain_brats.py'


@pytest.fixture(scope='module')
def brats_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('brats')
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(40)] * 3, indexing='ij'))
    brain = ((grid - 20)**2).sum(0) < 15**2  # a ball of "tissue"
    studies = {'c1': ('t1', 't2', 'flair'), 'c2': ('t1', 't1ce'), 'c3': ('t2', )}
    for case, mods in studies.items():
        (root / case).mkdir()
        for m in mods:
            vol = (brain * (100 + 50 * rng.random((40, 40, 40)))).astype(
                np.float32)
            nib.save(nib.Nifti1Image(vol, np.eye(4)),
                     str(root / case / f'{case}_{m}.nii.gz'))
    return str(root)


def overrides(root):
    return [
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.batch_size=3', 'train_cfg.max_epochs=3',
        'model.backbone.arch=tiny', 'model.recon_neck.in_channels=128',
        'model.recon_neck.channels=[32,16,16,8,8]',
        'model.neck.in_channels=128', 'model.neck.hid_channels=64',
        'model.neck.out_channels=16',
        'model.templates.canvas=[40,40,40]',
        'train_dataloader.dataset.pipeline.3.canvas=[40,40,40]',
        'train_dataloader.dataset.pipeline.7.size=32',
        'custom_hooks.0.cmr_start=1', 'custom_hooks.0.cl_start=2',
        'default_hooks.checkpoint.interval=1'
    ]


def run(cmd):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def test_pretrain_brats_walks_through_the_three_phases(brats_root, tmp_path):
    log = run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', *overrides(brats_root)
    ])
    # phase 1: MD + MD; phase 2: MD + CMR; phase 3: + CL (one epoch each)
    for phase, epoch in ((1, 0), (2, 1), (3, 2)):
        assert f'BrainMVP phase {phase} from epoch {epoch}' in log, log[-3000:]
    lines = [ln for ln in log.splitlines() if 'Epoch(train)' in ln]
    first = [ln for ln in lines if 'Epoch(train) [1]' in ln]
    second = [ln for ln in lines if 'Epoch(train) [2]' in ln]
    third = [ln for ln in lines if 'Epoch(train) [3]' in ln]
    # (the log keeps showing a term's running mean after it stops, so a
    # term's absence is checked before it first appears only)
    assert first and all('loss_md2' in ln and 'phase: 1' in ln
                         and 'loss_cmr' not in ln for ln in first)
    assert second and all('loss_cmr' in ln and 'phase: 2' in ln
                          and 'loss_cl' not in ln for ln in second)
    assert third and all('loss_cl' in ln and 'phase: 3' in ln
                         for ln in third)
    # the single-modality study c3 gets MD views; counted in the log
    assert 'md_fallback' in log
    ckpt = torch.load(tmp_path / 'epoch_3.pth')
    first = torch.load(tmp_path / 'epoch_1.pth')
    key = 'templates.templates'
    # The templates of the modalities seen were trained.
    assert not torch.equal(ckpt['state_dict'][key], first['state_dict'][key])
    # ... and export as NIfTI (normalised to [0, 1]) and a PNG montage.
    out = tmp_path / 'templates'
    run([
        sys.executable, 'tools/brainmvp/export_templates.py',
        str(tmp_path / 'epoch_3.pth'), '--out',
        str(out)
    ])
    t1 = nib.load(str(out / 'template_t1.nii.gz')).get_fdata()
    assert t1.shape == (40, 40, 40)
    assert t1.min() == pytest.approx(0) and t1.max() == pytest.approx(1)
    assert (out / 'templates_montage.png').read_bytes()[:4] == b'\x89PNG'
    proc = subprocess.run([
        sys.executable, 'tools/brainmvp/export_templates.py',
        str(tmp_path / 'nope.pth'), '--out',
        str(out)
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 1 and 'nope.pth' in proc.stderr


def test_packaged_mmpretrain_train_runs_brainmvp(brats_root, tmp_path):
    tool = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                    'train.py')
    run([
        sys.executable, tool, CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', *overrides(brats_root),
        'train_cfg.max_epochs=1'
    ])
    assert (tmp_path / 'epoch_1.pth').is_file()
