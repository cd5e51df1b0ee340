"""The demo drivers' helpers (:mod:`mics_mm.apis.demo`,
:mod:`mics_mm.apis.run_files`), that the drivers import, a shrunk run of
``make demo-brainmvp`` (2D and 3D) and a smoke run of the speed benchmark
(numbers are not checked: tests time nothing)."""
import importlib.util
import json
import os
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


def test_brainmvp_demo_keeps_dice_and_hd95_figures():
    demo = load_tool('tools/demo_brainmvp.py')
    for key in ('mDice', 'mHD95', 'Dice.csf', 'HD95.csf.median',
                'mDice_pooled', 'num_cases'):
        assert demo.is_score(key), key
    assert not demo.is_score('data_time')
    opts = [o.format(ckpt='c.pth') for o in demo.SEG_3D_PRE]
    assert 'model.pretrained=c.pth' in opts
    assert 'model.templates=c.pth' in opts
    for path in (demo.PRETRAIN_3D, demo.SEG_3D, demo.PRETRAIN,
                 demo.SEG_PRE, demo.SEG_SCRATCH):
        assert osp.isfile(osp.join(ROOT, path)), path
    args = demo.parse_args(['--skip-2d', '--seg-3d-options', 'a=1'])
    assert args.skip_2d and not args.skip_3d and args.seg_3d_options == [
        'a=1'
    ]


#: The demo's configs shrunk for a 4 mm demo set (canvas 49 x 58 x 47).
TINY_DEMO_2D_PRE = [
    'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
    'model.recon_neck.in_channels=128',
    'model.recon_neck.channels=[32,16,16,8,8]', 'model.neck.in_channels=128',
    'model.neck.hid_channels=32', 'model.neck.out_channels=16',
    'model.templates.canvas=[49,58,47]', 'train_dataloader.dataset.times=1',
    'train_dataloader.batch_size=3', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.dataset.pipeline.3.size=[32,32]',
    'train_dataloader.dataset.dataset.pipeline.0.transforms.1.pixdim=[4,4,4]',
    'train_dataloader.dataset.dataset.pipeline.0.transforms.2.canvas='
    '[49,58,47]', 'train_cfg.max_epochs=2', 'custom_hooks.0.cmr_start=1',
    'custom_hooks.0.cl_start=1', 'param_scheduler.0.end=1',
    'param_scheduler.1.begin=1', 'param_scheduler.1.end=2',
    'default_hooks.checkpoint.interval=2'
]
TINY_DEMO_2D_SEG = [
    'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
    'model.decode_head.in_channels=[16,32,64,128]',
    'model.decode_head.channels=16', 'train_dataloader.batch_size=2',
    'test_dataloader.batch_size=4', 'train_cfg.max_iters=2',
    'train_cfg.val_interval=2', 'param_scheduler.0.end=1',
    'param_scheduler.1.begin=1', 'param_scheduler.1.end=2',
    'default_hooks.checkpoint.interval=2',
    'train_dataloader.dataset.pipeline.2.size=[32,32]',
    'test_dataloader.dataset.pipeline.2.size=[64,64]',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'
]
TINY_DEMO_3D_PRE = [
    'model.templates.canvas=[49,58,47]', 'train_dataloader.dataset.times=1',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.dataset.pipeline.0.transforms.1.pixdim=[4,4,4]',
    'train_dataloader.dataset.dataset.pipeline.0.transforms.2.canvas='
    '[49,58,47]', 'train_cfg.max_epochs=2', 'custom_hooks.0.cmr_start=1',
    'custom_hooks.0.cl_start=1', 'param_scheduler.0.end=1',
    'param_scheduler.1.begin=1', 'param_scheduler.1.end=2',
    'default_hooks.checkpoint.interval=2'
]
TINY_DEMO_3D_SEG = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'default_hooks.checkpoint.interval=2', 'param_scheduler.0.T_max=2',
    'param_scheduler.0.end=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'
]


@pytest.mark.slow
def test_brainmvp_demo_runs_2d_and_3d(tmp_path):
    """``make demo-brainmvp`` end to end, shrunk: a 4 mm demo set, tiny
    configs; the summary holds the 2D and 3D Dice / HD95 with and without
    pre-training."""
    import math

    from mics_mm.testing.brain_demo import make_brain_demo
    data = tmp_path / 'brain'
    make_brain_demo(str(data), subjects=4, factor=4, labelled=1, held_out=1,
                    itk_dir=None)
    work = tmp_path / 'work'
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([
        sys.executable, 'tools/demo_brainmvp.py', '--work-dir',
        str(work), '--data',
        str(data), '--pretrain-options', *TINY_DEMO_2D_PRE, '--seg-options',
        *TINY_DEMO_2D_SEG, '--pretrain-3d-options', *TINY_DEMO_3D_PRE,
        '--seg-3d-options', *TINY_DEMO_3D_SEG
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((work / 'summary.json').read_text())
    classes = ('csf', 'gray_matter', 'white_matter')
    for key in ('segmentation', 'segmentation_scratch', 'segmentation_3d',
                'segmentation_3d_scratch'):
        r = summary[key]
        assert r['num_cases'] == 1, key
        for name in ('mDice', ) + tuple(f'Dice.{c}' for c in classes):
            assert math.isfinite(r[name]) and 0.0 <= r[name] <= 1.0, name
        for name in ('mHD95', ) + tuple(f'HD95.{c}' for c in classes):
            assert math.isfinite(r[name]) and r[name] >= 0.0, name
    assert summary['segmentation_3d']['pretrained'] == \
        summary['pretrain_3d']['checkpoint']
    assert summary['segmentation_3d_scratch']['pretrained'] is None
    assert summary['pretrain_3d']['loss_md_first'] > 0
    assert 'loss_cl_last' in summary['pretrain_3d']
    out = proc.stdout
    assert 'BrainMVP 2D pre-training done' in out
    assert 'BrainMVP 3D pre-training done' in out
    assert 'mHD95' in out
