"""Shared by the reliability tests and the 2-process driver: tiny data,
derived configs and in-process runs through tools/train.py's own code."""
import importlib.util
import json
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmengine.registry import RUNNERS

from mics_mm.apis import load_config

REPO = Path(__file__).resolve().parents[2]


def _load_train_tool():
    """tools/train.py as a module (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location('mics_tools_train',
                                                  REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_train_tool()

MICS_VIT = (REPO / 'configs/mics/'
            'mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py')
BRAINMVP_VIT = (REPO / 'configs/brainmvp/'
                'brainmvp_vit-tiny-p8_1xb16-coslr-20e_brain-demo-2d-96px.py')
FINETUNE = REPO / 'configs/mics/finetune_kvasir_demo.py'
MICS_DEMO = REPO / 'configs/mics/pretrain_kvasir_demo.py'


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """One torch thread (as each process of a 2-process run has): on a
    shared 2-core machine two OpenMP threads can be 20x slower, and the
    thread count changes float rounding."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class LossRecorder(Hook):
    """Record this rank's logged values after every training iteration."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.records: List[Dict[str, float]] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.records.append({
            k: float(v.detach())
            for k, v in (outputs or {}).items()
            if isinstance(v, torch.Tensor) and v.numel() == 1
        })


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


# ------------------------------------------------------------------ data
def make_kvasir(root: str, per_class: int = 2, size: int = 64) -> str:
    """SYNTHETIC Kvasir-layout demo data (8 classes)."""
    from mics_mm.testing.kvasir_demo import make_demo_kvasir
    make_demo_kvasir(root, per_class=per_class, size=size, seed=0)
    return str(root)


def make_mri(root: str, cases: int = 4, shape=(20, 20, 12)) -> str:
    """Tiny T1 + T2 studies in the BraTS folder layout (a ball of tissue)."""
    import nibabel as nib
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape],
                                indexing='ij'))
    centre = np.array(shape, dtype=float)[:, None, None, None] / 2
    ball = ((grid - centre)**2).sum(0) < (min(shape) / 2 - 1)**2
    for i in range(cases):
        case = f'c{i}'
        os.makedirs(osp.join(root, case), exist_ok=True)
        for mod in ('t1', 't2'):
            vol = (ball * (100 + 50 * rng.random(shape))).astype(np.float32)
            nib.save(nib.Nifti1Image(vol, np.eye(4)),
                     osp.join(root, case, f'{case}_{mod}.nii.gz'))
    return str(root)


def sha256(path) -> str:
    """Hex digest of a file's bytes."""
    import hashlib
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_images(root: str, n: int = 16, size: int = 32) -> str:
    """Random PNGs in two class folders (mmpretrain CustomDataset)."""
    import cv2
    rng = np.random.default_rng(0)
    for cls in ('a', 'b'):
        os.makedirs(osp.join(root, cls), exist_ok=True)
        for i in range(n // 2):
            img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            assert cv2.imwrite(osp.join(root, cls, f'{i}.png'), img)
    return str(root)


#: A tiny ResNet-18 classifier on ``make_images`` data (format with
#: ``data=``), 3 epochs, a checkpoint every epoch, one kept.
TINY_CLS = '''
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        num_classes=2, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='CustomDataset', data_root={data!r},
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='PackInputs')]),
    sampler=dict(type='DefaultSampler', shuffle=True))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=3)
custom_hooks = [dict(type='RandomStateHook')]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=1))
log_processor = dict(window_size=1)
randomness = dict(seed=0)
'''


def run_tool(cmd: Sequence[str], timeout: int = 600) -> str:
    """Run a tool in a CPU-only subprocess from the repo root; return its
    output, failing the test with the output's tail when it fails."""
    import subprocess
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run(
        list(cmd), cwd=str(REPO), env=env, capture_output=True, text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


# --------------------------------------------------------------- configs
def write_config(path: str, base, body: str) -> str:
    """A config inheriting ``base`` (absolute path) plus ``body``."""
    with open(path, 'w') as f:
        f.write(f'_base_ = [{str(base)!r}]\n{body}')
    return str(path)


# SGD with momentum in place of the configs' Adam / AdamW, for the runs
# that compare 2 processes with 1 (``sgd=True``). Adam divides each
# gradient entry by its own running magnitude, so (a) a gradient scaled
# by a constant (a sum over ranks where a mean belongs, a loss scaled by
# the world size) gives the same steps and goes unseen, and (b) entries
# whose gradient is about as small as float rounding move by about lr
# with the sign of the rounding noise: measured on this project's pinned
# torch (2.14.1, CPU), BrainMVP's MD loss after 4 AdamW steps differed
# by 2.3e-3 between 2 processes and 1, while with SGD every loss agreed
# to <= 1.5e-6 and the weights to 1e-5 (equivalence_report.py prints
# both). SGD's step is linear in the gradient: rounding stays at rounding
# size and a scaled gradient shows (test_distributed_equivalence.py's
# control runs with the gradient doubled). No weight decay, so doubling
# lr doubles exactly the step.
# MICS' learnable temperature takes 1/100 of the lr: its gradient is
# ~100x the others' and at the full rate it jumps to its clamp.
MICS_SGD = '''
optim_wrapper = dict(
    generator=dict(
        optimizer=dict(_delete_=True, type='SGD', lr=0.1, momentum=0.9,
                       weight_decay=0.0),
        paramwise_cfg=dict(custom_keys=dict(temperature=dict(lr_mult=0.01)))),
    discriminator=dict(
        optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9)))
'''
BRAINMVP_SGD = '''
optim_wrapper = dict(
    sparse_templates=False,
    optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9,
                   weight_decay=0.0))
'''
# The options that double every step of those SGD runs (the control).
DOUBLED_LR = {
    'mics': ['optim_wrapper.generator.optimizer.lr=0.2',
             'optim_wrapper.discriminator.optimizer.lr=0.02'],
    'brainmvp': ['optim_wrapper.optimizer.lr=0.02'],
}


def mics_equivalence_config(path: str, data: str, recon: bool = False,
                            sgd: bool = False) -> str:
    """MICS, ViT-tiny (LayerNorm only) at 32 px, consistency + aligned
    losses, a deterministic pipeline (no random crop / flip / jitter) and
    no reconstruction (its random masks are drawn per process), unless
    ``recon``; SGD (``MICS_SGD``) in place of Adam if ``sgd``."""
    no_recon = ('recon_neck=dict(num_patches=16)'
                if recon else 'recon_head=None, recon_neck=None')
    return write_config(
        path, MICS_VIT, f'''
model = dict(
    backbone=dict(img_size=32),
    head=dict(queue_size=64),
    {no_recon})
{MICS_SGD if sgd else ''}
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(data_root={data!r}, ann_file='', split=None, pipeline=[
        dict(type='LoadMultiModalImages'),
        dict(type='SimulatedNBI', src='wli', dst='nbi'),
        dict(type='SharedModalityTransforms',
             transforms=[dict(type='Resize', scale=(32, 32))]),
        dict(type='PackMultiModalInputs'),
    ]))
train_cfg = dict(max_epochs=2)
default_hooks = dict(checkpoint=dict(interval=100, save_last=False))
''')


def brainmvp_config(path: str, data: str, mask_ratio: float,
                    sgd: bool = False) -> str:
    """BrainMVP, ViT-tiny at 32 px on T1 slices (every 3rd axial slice of
    each study, centred; no random slice / modality / crop), no projection
    neck (its BatchNorm1d), CL on from the start. One modality: the target
    slot is fixed and both views are MD views, so no per-process random
    draw (slot, CMR partner) changes what the model sees. SGD
    (``BRAINMVP_SGD``, dense templates) in place of the sparse-template
    AdamW if ``sgd``."""
    return write_config(
        path, BRAINMVP_VIT, f'''{BRAINMVP_SGD if sgd else ''}
model = dict(
    backbone=dict(img_size=32, in_channels=1),
    recon_neck=dict(out_channels=1),
    neck=None,
    templates=dict(canvas=(20, 20, 12)),
    mask_ratio={mask_ratio!r},
    use_cl=True)
custom_hooks = [dict(type='RandomStateHook')]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(
        _delete_=True,
        type='BrainMRISliceDataset',
        data_root={data!r},
        modalities=('t1', ),
        stride=3,
        foreground_from='image',
        pipeline=[
            dict(type='CachedCompose', transforms=[
                dict(type='LoadMRIStudy'),
                dict(type='PercentileNormalize')]),
            dict(type='TakeSlice2D', axis=2),
            dict(type='CropPad', size=(32, 32), mode='center'),
            dict(type='PackMRIInputs'),
        ]))
train_cfg = dict(max_epochs=2)
default_hooks = dict(checkpoint=dict(interval=100, save_last=False))
''')


def equivalence_config_paths(out: str) -> Dict[str, str]:
    return {
        name: osp.join(out, f'{name}_cfg.py')
        for name in ('mics', 'mics_masked', 'brainmvp', 'brainmvp_masked')
    }


def write_equivalence_configs(out: str, kvasir: str, mri: str,
                              sgd: bool = True) -> Dict[str, str]:
    """The derived configs of the equivalence runs, written to ``out``.
    The two compared with 1 process take SGD unless ``sgd=False``
    (``equivalence_report.py --adam``); the masked runs keep the configs'
    optimizers (the sparse template AdamW must stay rank-consistent)."""
    paths = equivalence_config_paths(out)
    mics_equivalence_config(paths['mics'], kvasir, sgd=sgd)
    mics_equivalence_config(paths['mics_masked'], kvasir, recon=True)
    brainmvp_config(paths['brainmvp'], mri, 0.0, sgd=sgd)
    brainmvp_config(paths['brainmvp_masked'], mri, 0.8)
    return paths


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a rendezvous)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


EQUIVALENCE_RUNS = ('mics', 'brainmvp', 'brainmvp_masked', 'finetune',
                    'mics_masked', 'brainmvp_same_seed')


def run_two_processes(out: str, sgd: bool = True) -> dict:
    """Write the demo data and the equivalence configs to ``out``, run
    ``dist_driver.py`` on 2 gloo processes (1 thread each) and return the
    configs, the data folders, every run's per-rank records and the log."""
    kvasir = make_kvasir(osp.join(out, 'kvasir'), per_class=2)
    mri = make_mri(osp.join(out, 'mri'))
    configs = write_equivalence_configs(out, kvasir, mri, sgd=sgd)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    env.pop('LOCAL_RANK', None)
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
        '2', '--master_port',
        str(free_port()),
        osp.join(osp.dirname(osp.abspath(__file__)), 'dist_driver.py'), out,
        kvasir
    ],
                          cwd=str(REPO),
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    ranks = {
        name: [
            torch.load(osp.join(out, f'{name}_rank{r}.pt'),
                       weights_only=False) for r in range(2)
        ]
        for name in EQUIVALENCE_RUNS
    }
    return dict(out=out, kvasir=kvasir, configs=configs, ranks=ranks,
                log=proc.stdout + proc.stderr)


def global_losses(ranks: Sequence[dict], term: str) -> List[float]:
    """Mean over ranks of each iteration's per-rank value."""
    per_rank = [[rec[term] for rec in r['losses']] for r in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) > 0
    return [sum(v) / len(v) for v in zip(*per_rank)]


def one_process_diffs(runs: dict, name: str, work_dir: str,
                      options: Sequence[str] = ()) -> dict:
    """Train run ``name`` of ``run_two_processes`` in this process with
    the global batch (8) and ``options``; return, against the 2-process
    run, each logged term's largest relative difference over the steps
    (``terms``), the relative difference of the final weights (``state``;
    MICS' queue left out: it holds the same keys in rank order, compared
    by the test) and this run's record (``one``)."""
    one = train_and_record(runs['configs'][name], work_dir,
                           ['train_dataloader.batch_size=8', *options])
    ranks = runs['ranks'][name]
    assert len(one['losses']) == len(ranks[0]['losses']) > 0
    terms = {
        term: max_rel_diff(global_losses(ranks, term),
                           [rec[term] for rec in one['losses']])
        for term in one['losses'][0]
    }
    double, single = dict(ranks[0]['state']), dict(one['state'])
    double.pop('head.queue', None)
    single.pop('head.queue', None)
    return dict(terms=terms, state=relative_state_diff(double, single),
                one=one)


def finetune_options(data: str) -> List[str]:
    """The multimodal classifier with the distribution-shift head on all
    16 demo images, 1 epoch, no validation."""
    return [
        f'train_dataloader.dataset.data_root={data}',
        'train_dataloader.dataset.ann_file=', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'model.pretrained=None', 'default_hooks.checkpoint.interval=100',
        'default_hooks.checkpoint.save_last=False'
    ]


# ------------------------------------------------------------------ runs
def build_runner(config: str,
                 work_dir: str,
                 options: Sequence[str] = (),
                 launcher: str = 'none',
                 extra_args: Sequence[str] = ()):
    """Build a Runner exactly as tools/train.py does (config-key checks
    included; ``SafeRunner`` checks the work dir when it trains), with a
    unique experiment name so that several runs can share one process."""
    argv = [
        str(config), '--work-dir',
        str(work_dir), '--launcher', launcher, *extra_args, '--cfg-options',
        *options, f'experiment_name=run_{uuid.uuid4().hex[:8]}'
    ]
    args = train_tool.parse_args(argv)
    cfg = train_tool.merge_train_args(load_config(args), args)
    return RUNNERS.build(cfg)


def train_and_record(config: str,
                     work_dir: str,
                     options: Sequence[str] = (),
                     launcher: str = 'none',
                     extra_args: Sequence[str] = ()) -> dict:
    """Train; return the logged values per iteration and the final state
    dict (on the CPU)."""
    runner = build_runner(config, work_dir, options, launcher, extra_args)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    state = {
        k: v.detach().cpu().clone()
        for k, v in unwrap(runner.model).state_dict().items()
    }
    return dict(losses=recorder.records, state=state)


def read_scalars(work_dir: str) -> Dict[int, dict]:
    """The training records of every run in ``work_dir`` by step (a later
    run overrides an earlier one's steps)."""
    records = {}
    for path in sorted(Path(work_dir).glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                if 'loss' in rec:
                    records[rec['step']] = rec
    return records


def max_rel_diff(a: Sequence[float], b: Sequence[float]) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-8)))


def relative_state_diff(a: Dict[str, torch.Tensor],
                        b: Dict[str, torch.Tensor]) -> float:
    """``||a - b|| / ||b||`` over all floating-point tensors of two state
    dicts with the same keys."""
    assert set(a) == set(b)
    num = den = 0.0
    for key, y in b.items():
        if y.is_floating_point():
            num += float((a[key].double() - y.double()).pow(2).sum())
            den += float(y.double().pow(2).sum())
    return (num / max(den, 1e-30))**0.5


def load_state(path) -> Dict[str, torch.Tensor]:
    return torch.load(path, map_location='cpu', weights_only=False)[
        'state_dict']


def assert_states_close(a: Dict[str, torch.Tensor],
                        b: Dict[str, torch.Tensor],
                        atol: float = 1e-5,
                        keys: Optional[Sequence[str]] = None) -> None:
    assert set(a) == set(b)
    for key in keys or sorted(a):
        x, y = a[key], b[key]
        if x.is_floating_point():
            assert torch.allclose(x.float(), y.float(), atol=atol), (
                key, float((x.float() - y.float()).abs().max()))
        else:
            assert torch.equal(x, y), key


# ------------------------------------------------------- killed and resumed
def mics_demo_options(data: str,
                      num_workers: int = 0,
                      persistent_workers: bool = False) -> List[str]:
    """The MICS demo config (ResNet-18 with 16 base channels, 64 px, all
    three losses, random crops / flips / jitter / masks) on 16 images,
    batch 4: 2 epochs of 4 iterations, a checkpoint every epoch."""
    return [
        f'train_dataloader.dataset.data_root={data}',
        'train_dataloader.dataset.ann_file=',
        'train_dataloader.dataset.split=None',
        'train_dataloader.batch_size=4',
        f'train_dataloader.num_workers={num_workers}',
        f'train_dataloader.persistent_workers={persistent_workers}',
        'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.interval=1', 'model.head.queue_size=24',
        'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
        'model.neck.in_channels=128', 'model.recon_neck.in_channels=128',
        'model.discriminator.in_channels=128', 'randomness.seed=7'
    ]


def train_subprocess_env() -> Dict[str, str]:
    """A CPU-only tools/train.py subprocess with one torch thread (as the
    tests' own process, ``one_thread``)."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', PYTHONUNBUFFERED='1',
               OMP_NUM_THREADS='1')
    env.pop('LOCAL_RANK', None)
    return env


#: A log line of epoch 2, step 2 of 4 (epoch_1.pth is saved by then).
EPOCH2_STEP2 = r'Epoch\(train\)\s*\[2\]\[\s*2/4\]'


def kill_then_resume(config,
                     work_dir,
                     options: Sequence[str],
                     kill_at: str = EPOCH2_STEP2) -> dict:
    """Train ``config`` in a ``tools/train.py`` subprocess, SIGKILL it at
    the first log line matching ``kill_at``, then resume it with
    ``--resume`` (tools/train.py's code path, in this process).

    Returns ``killed`` (the work dir's files, ``last_checkpoint``'s target,
    epoch_1.pth's SHA-256 and the logged scalars at the kill) and
    ``resumed`` (:func:`train_and_record` of the resumed run)."""
    work = Path(work_dir)
    proc = subprocess.Popen(
        [
            sys.executable, 'tools/train.py',
            str(config), '--work-dir',
            str(work), '--cfg-options', *options
        ],
        cwd=str(REPO),
        env=train_subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if re.search(kill_at, line):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=300)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, ''.join(seen[-40:])
    pointer = (work / 'last_checkpoint').read_text().strip()
    killed = dict(
        files=sorted(p.name for p in work.iterdir() if not p.is_dir()),
        pointer=pointer,
        sha=sha256(work / 'epoch_1.pth'),
        scalars=read_scalars(str(work)))
    resumed = train_and_record(config, str(work), options, 'none',
                               ['--resume'])
    return dict(work=work, killed=killed, resumed=resumed)


def max_state_diff(a: Dict[str, torch.Tensor],
                   b: Dict[str, torch.Tensor]) -> float:
    """The largest absolute difference over the floating-point tensors of
    two state dicts with the same keys."""
    assert set(a) == set(b)
    return max((float((a[k].double() - b[k].double()).abs().max())
                for k in b if b[k].is_floating_point() and b[k].numel()),
               default=0.0)
