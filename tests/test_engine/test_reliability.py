"""Reliability of training runs (docs/reliability.md).

- SIGKILL (a ``tools/train.py`` subprocess) mid-epoch, then ``--resume``
  (tools/train.py's functions, in this process): the run continues from
  its last checkpoint exactly like an uninterrupted one (MICS); the killed
  run, a second run of the same config and seed, also reproduces the
  uninterrupted run's losses step by step up to the kill.
- A save killed half-way leaves the previous checkpoint, the
  ``last_checkpoint`` pointer and resuming intact; a truncated checkpoint
  given explicitly fails naming the file.
- Same seed and config -> same loss trajectory (MICS, BrainMVP).
- Non-finite losses: ``policy='stop'`` / ``'skip'`` for a classifier,
  MICS and BrainMVP; a NaN is never saved.
- The work-dir guard of ``tools/train.py``.

Runs are tiny (ResNet-18 / ViT-tiny, 32-64 px, a few iterations,
``num_workers=0``, 1 thread) and, except for the killed one, in this
process through tools/train.py's own functions.
"""
import hashlib
import json
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook

import reliability_helpers as rh
from reliability_helpers import one_thread  # noqa: F401 (autouse fixture)
from mics_mm.engine.hooks import NonFiniteLossHook
from mics_mm.engine.runner import check_work_dir
from mics_mm.utils import atomic
from mics_mm.utils.checkpoint_io import (CheckpointReadError,
                                         NonFiniteCheckpointError)

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

MICS_DEMO = str(rh.REPO / 'configs/mics/pretrain_kvasir_demo.py')
BRAINMVP_DEMO = str(rh.REPO / 'configs/brainmvp/pretrain_brain_demo.py')
RUNTIME = str(rh.REPO / 'configs/_base_/default_runtime.py')

TINY_CLS = rh.TINY_CLS


def _sha(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _pointer(work_dir) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _run_files(work_dir):
    """Files in a work dir but the dumped config (and the log folders)."""
    return sorted(p.name for p in work_dir.iterdir()
                  if p.is_file() and p.suffix != '.py')


def _non_finite_hook(runner) -> NonFiniteLossHook:
    return next(h for h in runner.hooks
                if isinstance(h, NonFiniteLossHook))


class PoisonLoss(Hook):
    """Multiply one loss term by NaN at the given (0-based) iterations."""

    priority = 'VERY_HIGH'

    def __init__(self, at, term='loss'):
        self.at, self.term = set(at), term

    def before_train(self, runner):
        model = rh.unwrap(runner.model)
        loss = model.loss

        def poisoned(*args, **kwargs):
            out = loss(*args, **kwargs)
            if runner.iter in self.at:
                out[self.term] = out[self.term] * float('nan')
            return out

        model.loss = poisoned


class PoisonInputs(Hook):
    """Make the first modality's inputs NaN at the given iterations."""

    priority = 'VERY_HIGH'

    def __init__(self, at):
        self.at = set(at)

    def before_train(self, runner):
        pre = rh.unwrap(runner.model).data_preprocessor
        forward = pre.forward

        def poisoned(*args, **kwargs):
            out = forward(*args, **kwargs)
            if runner.iter in self.at:
                first = next(iter(out['inputs']))
                out['inputs'][first] = out['inputs'][first] * float('nan')
            return out

        pre.forward = poisoned


class WeightsAfterIter(Hook):
    """Copy one parameter after every iteration."""

    priority = 'LOWEST'

    def __init__(self, name):
        self.name, self.values = name, []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        params = dict(rh.unwrap(runner.model).named_parameters())
        self.values.append(params[self.name].detach().clone())


# ------------------------------------------------------------- fixtures
@pytest.fixture(scope='module')
def kvasir(tmp_path_factory):
    return rh.make_kvasir(str(tmp_path_factory.mktemp('kvasir') / 'd'),
                          per_class=2)


@pytest.fixture(scope='module')
def tiny_cls(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_cls')
    data = rh.make_images(str(root / 'data'))
    return rh.write_config(str(root / 'tiny_cls.py'), RUNTIME,
                           TINY_CLS.format(data=data))


def mics_options(data):
    """The MICS demo config, tiny (:func:`rh.mics_demo_options`), without
    data-loader workers."""
    return rh.mics_demo_options(data)


@pytest.fixture(scope='module')
def mics_reference(kvasir, tmp_path_factory):
    """An uninterrupted MICS run: its losses, final state and work dir."""
    work = tmp_path_factory.mktemp('mics_ref') / 'run'
    result = rh.train_and_record(MICS_DEMO, str(work), mics_options(kvasir))
    result['work_dir'] = str(work)
    return result


# ------------------------------------------------------- 1. SIGKILL, resume
@pytest.fixture(scope='module')
def mics_killed_and_resumed(kvasir, tmp_path_factory):
    """A MICS run SIGKILLed mid-epoch 2 (epoch_1.pth saved, 2 of epoch 2's
    4 steps run), then resumed with --resume (rh.kill_then_resume)."""
    work = tmp_path_factory.mktemp('mics_killed') / 'run'
    return rh.kill_then_resume(MICS_DEMO, work, mics_options(kvasir))


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(
        mics_killed_and_resumed, mics_reference):
    work, killed = (mics_killed_and_resumed[k] for k in ('work', 'killed'))
    # Killed mid-epoch 2: epoch 1's checkpoint and the pointer to it.
    assert 'epoch_1.pth' in killed['files']
    assert 'epoch_2.pth' not in killed['files']
    assert killed['pointer'].endswith('epoch_1.pth')
    # It had trained past epoch_1.pth (step 4) when it was killed.
    assert max(killed['scalars']) > 4
    # The resumed run started from there (it ran steps 5-8 only) and left
    # epoch_1.pth as it was.
    assert len(mics_killed_and_resumed['resumed']['losses']) == 4
    assert _sha(work / 'epoch_1.pth') == killed['sha']
    # Final weights (all of them: encoder, momentum encoder, queue,
    # discriminator) equal the uninterrupted run's ...
    final = rh.load_state(work / 'epoch_2.pth')
    rh.assert_states_close(final, mics_reference['state'], atol=1e-5)
    # ... and so do the losses logged after the resume (steps 5-8; the
    # resumed run's log folder is the newest).
    logged = rh.read_scalars(str(work))
    ref = rh.read_scalars(mics_reference['work_dir'])
    for step in range(5, 9):
        for term in ('loss', 'loss_recon', 'loss_consistency',
                     'loss_aligned', 'loss_disc'):
            assert logged[step][term] == pytest.approx(
                ref[step][term], rel=1e-4), (step, term)


# -------------------------------------------------- 3. same seed, same run
def test_mics_same_seed_same_loss_trajectory(mics_killed_and_resumed,
                                             mics_reference):
    """The killed run was a second run of the reference's config and seed
    (in another process): the steps it logged before the kill are the
    same."""
    again = mics_killed_and_resumed['killed']['scalars']
    ref = rh.read_scalars(mics_reference['work_dir'])
    assert sorted(again) == list(range(1, max(again) + 1))
    assert max(again) > 4
    for step, rec in again.items():
        for term in ('loss', 'loss_recon', 'loss_consistency',
                     'loss_aligned', 'loss_disc', 'temperature'):
            assert rec[term] == pytest.approx(ref[step][term], rel=1e-5), (
                step, term)


@pytest.fixture(scope='module')
def mri(tmp_path_factory):
    root = tmp_path_factory.mktemp('mri') / 'studies'
    rh.make_mri(str(root))
    with open(root / 'pretrain.json', 'w') as f:
        json.dump([
            dict(case=f'c{i}',
                 images={m: f'c{i}/c{i}_{m}.nii.gz'
                         for m in ('t1', 't2')}) for i in range(4)
        ], f)
    return str(root)


def brainmvp_options(data):
    """The BrainMVP 2D demo config (random slice, modalities, crop and
    masks), ResNet-18 with 16 base channels at 32 px, CL from epoch 2."""
    return [
        f'train_dataloader.dataset.dataset.data_root={data}',
        'train_dataloader.dataset.times=2', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.dataset.pipeline.3.size=[32,32]',
        'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
        'model.recon_neck.in_channels=128',
        'model.recon_neck.channels=[32,16,16,8,8]',
        'model.neck.in_channels=128', 'model.neck.hid_channels=32',
        'model.neck.out_channels=16', 'model.templates.canvas=[20,20,12]',
        'train_dataloader.dataset.dataset.pipeline.0.transforms.1.pixdim='
        '[1,1,1]',
        'train_dataloader.dataset.dataset.pipeline.0.transforms.2.canvas='
        '[20,20,12]',
        'train_cfg.max_epochs=2', 'custom_hooks.0.cmr_start=1',
        'custom_hooks.0.cl_start=1',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=2', 'default_hooks.checkpoint.interval=100',
        'default_hooks.checkpoint.save_last=False'
    ]


def test_brainmvp_same_seed_same_loss_trajectory(mri, tmp_path):
    runs = [
        rh.train_and_record(BRAINMVP_DEMO, str(tmp_path / name),
                            brainmvp_options(mri)) for name in ('a', 'b')
    ]
    a, b = (r['losses'] for r in runs)
    assert len(a) == len(b) == 4
    assert 'loss_cl' in a[-1]  # switched on in epoch 2
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for term in x:
            assert x[term] == pytest.approx(y[term], rel=1e-6), term
    rh.assert_states_close(runs[0]['state'], runs[1]['state'], atol=0)


# ------------------------------------------------- 2. atomic checkpoints
class _Killed(BaseException):
    """Stands in for the process dying in the middle of a write."""


def test_save_killed_half_way_keeps_checkpoint_and_pointer(
        tiny_cls, tmp_path, monkeypatch):
    ref = rh.train_and_record(tiny_cls, str(tmp_path / 'ref'))

    work = tmp_path / 'killed'
    write = atomic._write_all

    def dies_half_way(f, data):
        if 'epoch_2.pth' in f.name:
            write(f, data[:len(data) // 2])
            raise _Killed()
        write(f, data)

    monkeypatch.setattr(atomic, '_write_all', dies_half_way)
    runner = rh.build_runner(tiny_cls, str(work))
    with pytest.raises(_Killed):
        runner.train()
    monkeypatch.undo()
    # max_keep_ckpts=1: mmengine deletes epoch_1.pth *before* saving
    # epoch_2.pth; now it is deleted only after the new one is complete.
    assert _run_files(work) == ['epoch_1.pth', 'last_checkpoint']
    assert _pointer(work) == str(work / 'epoch_1.pth')
    ckpt = torch.load(work / 'epoch_1.pth', weights_only=False)
    assert ckpt['meta']['epoch'] == 1

    resumed = rh.train_and_record(tiny_cls, str(work), (), 'none',
                                  ['--resume'])
    assert len(resumed['losses']) == 8  # epochs 2 and 3
    rh.assert_states_close(resumed['state'], ref['state'], atol=1e-6)
    assert _run_files(work) == ['epoch_3.pth', 'last_checkpoint']


def test_truncated_checkpoint_given_explicitly_is_named(tiny_cls, tmp_path):
    good = tmp_path / 'run'
    rh.train_and_record(tiny_cls, str(good), ['train_cfg.max_epochs=1'])
    data = (good / 'epoch_1.pth').read_bytes()
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(data[:len(data) // 3])
    with pytest.raises(CheckpointReadError) as err:
        rh.build_runner(tiny_cls, str(tmp_path / 'new'), (), 'none',
                        ['--resume', str(bad)]).train()
    assert str(bad) in str(err.value) and 'truncated' in str(err.value)


# ------------------------------------------------- 5. non-finite losses
def test_nan_loss_stop_keeps_last_good_checkpoint(tiny_cls, tmp_path):
    work = tmp_path / 'stop'
    runner = rh.build_runner(tiny_cls, str(work), [
        'default_hooks.checkpoint.by_epoch=False',
        'default_hooks.checkpoint.interval=1'
    ])
    runner.register_hook(PoisonLoss(at={2}))
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 3' in msg and 'loss=nan' in msg
    assert "policy 'stop'" in msg and 'unchanged' in msg
    # iter_1.pth was replaced by iter_2.pth (max_keep_ckpts=1); no iter_3.
    assert _pointer(work) == str(work / 'iter_2.pth')
    assert not (work / 'iter_3.pth').exists()
    state = rh.load_state(work / 'iter_2.pth')
    assert all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_nan_loss_skip_drops_the_step(tiny_cls, tmp_path):
    runner = rh.build_runner(tiny_cls, str(tmp_path / 'skip'), [
        'default_hooks.non_finite.policy=skip', 'train_cfg.max_epochs=1'
    ])
    weights = WeightsAfterIter('head.fc.weight')
    runner.register_hook(PoisonLoss(at={1}))
    runner.register_hook(weights)
    runner.train()
    assert _non_finite_hook(runner).num_skipped == 1
    assert len(weights.values) == 4
    assert torch.equal(weights.values[1], weights.values[0])  # skipped
    assert not torch.equal(weights.values[2], weights.values[1])
    assert runner.message_hub.get_scalar(
        'train/skipped_steps').current() == 1
    state = rh.load_state(tmp_path / 'skip' / 'epoch_1.pth')
    assert all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_nan_skip_keeps_mics_queue_finite(kvasir, tmp_path):
    """MICS (ViT, no BatchNorm): NaN inputs in one step make its loss and
    momentum keys NaN; the step is skipped and the keys not enqueued."""
    config = rh.mics_equivalence_config(str(tmp_path / 'mics.py'), kvasir)
    runner = rh.build_runner(config, str(tmp_path / 'work'), [
        'default_hooks.non_finite.policy=skip',
        'train_dataloader.batch_size=8', 'train_cfg.max_epochs=1'
    ])
    runner.register_hook(PoisonInputs(at={1}))
    runner.train()
    assert _non_finite_hook(runner).num_skipped == 1
    state = rh.unwrap(runner.model).state_dict()
    for key, value in state.items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), key


def test_nan_skip_refused_when_forward_wrote_nan_state(kvasir, tmp_path):
    """MICS with ResNet-18: the NaN batch went through BatchNorm, whose
    running statistics are now NaN; skipping cannot undo that."""
    runner = rh.build_runner(MICS_DEMO, str(tmp_path / 'work'), [
        *mics_options(kvasir), 'default_hooks.non_finite.policy=skip'
    ])
    runner.register_hook(PoisonInputs(at={0}))
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 1' in msg and 'cannot be skipped' in msg
    assert 'running_mean' in msg or 'running_var' in msg
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_nan_loss_stop_names_brainmvp_term(mri, tmp_path):
    runner = rh.build_runner(BRAINMVP_DEMO, str(tmp_path / 'work'), [
        *brainmvp_options(mri), 'custom_hooks.0.cl_start=0'
    ])
    runner.register_hook(PoisonLoss(at={1}, term='loss_cl'))
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 2 (epoch 1' in msg and 'loss_cl=nan' in msg
    assert 'loss_md=' not in msg  # only the non-finite terms are named


def test_non_finite_weights_are_never_saved(tiny_cls, tmp_path):
    """A finite loss can still leave NaN weights (an inf gradient); the
    save refuses them and keeps the last good checkpoint and pointer."""

    class Diverge(Hook):
        priority = 'HIGH'  # before CheckpointHook (VERY_LOW)

        def after_train_epoch(self, runner):
            if runner.epoch == 1:
                with torch.no_grad():
                    rh.unwrap(runner.model).head.fc.weight.fill_(
                        float('nan'))

    work = tmp_path / 'work'
    runner = rh.build_runner(tiny_cls, str(work))
    runner.register_hook(Diverge())
    with pytest.raises(NonFiniteCheckpointError) as err:
        runner.train()
    assert 'epoch_2.pth' in str(err.value)
    assert 'state_dict.head.fc.weight' in str(err.value)
    assert _pointer(work) == str(work / 'epoch_1.pth')
    assert not (work / 'epoch_2.pth').exists()


def test_non_finite_hook_in_every_runtime():
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import HOOKS as SEG_HOOKS
    cfg = Config.fromfile(
        str(rh.REPO / 'configs/brainmvp/benchmarks/'
            'upernet_resnet18_brainmvp-pre_1xb8-300it_brain-demo-96px.py'))
    with DefaultScope.overwrite_default_scope('mmseg'):
        hook = SEG_HOOKS.build(cfg.default_hooks.non_finite)
    assert isinstance(hook, NonFiniteLossHook) and hook.policy == 'stop'
    with pytest.raises(ValueError, match='policy'):
        NonFiniteLossHook(policy='ignore')


# --------------------------------------------------------- 6. work dir
def test_train_refuses_a_work_dir_with_checkpoints(tiny_cls, tmp_path):
    work = tmp_path / 'old_run'
    work.mkdir()
    torch.save(dict(state_dict={}), work / 'epoch_3.pth')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_3.pth'))
    before = {p.name: _sha(p) for p in work.iterdir()}
    argv = [tiny_cls, '--work-dir', str(work)]
    with pytest.raises(SystemExit) as err:
        rh.train_tool.main(argv)
    msg = str(err.value)
    assert str(work) in msg and 'epoch_3.pth' in msg
    assert '--resume' in msg and '--overwrite' in msg
    # --overwrite is the explicit way; the check then passes.
    check_work_dir(str(work), overwrite=True)
    # --resume with a pointer to a missing file, or with no pointer.
    (work / 'last_checkpoint').write_text(str(work / 'epoch_9.pth'))
    with pytest.raises(SystemExit, match='epoch_9.pth'):
        rh.train_tool.main(argv + ['--resume'])
    (work / 'last_checkpoint').unlink()
    with pytest.raises(SystemExit, match='no last_checkpoint'):
        rh.train_tool.main(argv + ['--resume'])
    assert {p.name: _sha(p) for p in work.iterdir()} == {
        k: v
        for k, v in before.items() if k != 'last_checkpoint'
    }
