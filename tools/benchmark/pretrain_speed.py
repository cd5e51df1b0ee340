"""Cost of one pre-training step: MICS, BrainMVP and mmpretrain's methods
on the same backbone, batch and image size.

A step is ``model.train_step`` (forward, backward, optimizer update; for
MICS the encoder step and the discriminator step). After a warm-up the
methods are timed in alternating rounds in one process, so machine noise
hits all alike; each method's ``ratio`` is the median of its per-round
ratios to the reference method of the group (SimCLR; MAE for the MRI
group), which a burst of load on a shared machine cannot move much.

Groups (``--backbone``), each built from the project's demo configs:

- ``resnet18``: MICS, SimCLR, MoCo v3, BYOL (RGB, 2 views / modalities);
- ``vit-tiny`` (patch 8): MICS, SimCLR, MAE (both modalities, each image a
  sample of its own, so it sees as many images as the two-view methods) and
  the MICS step's **floor** (``floor``): the MICS demo config's MAEViT,
  projection neck and momentum encoder, the encoder's optimizer (AdamW, the
  same parameter-wise settings), on the same 2N images of the two
  modalities: one full (unmasked) forward + backward of the online encoder
  and neck, the momentum encoder's EMA update and forward (no gradient),
  and one MAE-masked forward + backward of the encoder (25 % of the tokens
  kept), with a trivial loss: no decoder, consistency head, queue or
  discriminator. The ratio mics / floor is what those cost; the reference
  stays SimCLR;
- ``mri-vit-tiny`` (patch 8, 4 MRI channels): BrainMVP 2D and MAE on
  slices, reference MAE;
- ``uniformer3d`` (``--arch tiny`` or ``s``, one-channel views of 4 MRI
  modalities, 3D patches of ``--size``^3): the BrainMVP 3D step (the BraTS
  config, its 240 x 240 x 155 templates, MD + CMR views, CL on) with its
  configured optimizer (``brainmvp``: lazy AdamW on the templates) and with
  dense AdamW (``brainmvp-dense``), against its own **floor** (``floor``,
  the reference): the same encoder and decoder, forward and backward on the
  same two one-channel views (the target and a second modality, unmasked,
  one pass at batch 2N as the step does), the same loss weights and
  optimizer type (AdamW), without masking, templates or CL. The ratio
  brainmvp / floor is what masking, templates and CL cost. The group also
  reports the templates' memory (parameters, gradient and AdamW's two
  moments, bytes) and times the template update alone, dense vs lazy
  AdamW, at ``--template-sizes``.

Also measured: images per second (samples x images per sample / s), peak
memory of a step (``--memory``: each method in a fresh process; CPU: peak
resident set over the steps minus the resident set before them, read from
``/proc/self/status`` after resetting the peak; GPU:
``torch.cuda.max_memory_allocated``), and, with ``--sweep-batch`` /
``--sweep-size``, how the step time grows with batch and image size
(plotted to ``--plot``). ``--device cuda --amp`` runs the same on a GPU with
mixed precision. The data loader is timed on the real MICS pipeline over the
demo data (RGB groups) to show whether it keeps up with a step.

Examples (the figures in the README / docs/benchmarks.md come from these)::

    python tools/benchmark/pretrain_speed.py --backbone resnet18 \
        --size 64 --batch 16 --memory --out work_dirs/bench/resnet18.json
    python tools/benchmark/pretrain_speed.py --backbone vit-tiny \
        --size 64 --batch 16 --memory --out work_dirs/bench/vit-tiny.json
    python tools/benchmark/pretrain_speed.py --backbone mri-vit-tiny \
        --size 96 --batch 16 --memory --out work_dirs/bench/mri.json
    python tools/benchmark/pretrain_speed.py --backbone uniformer3d \
        --arch tiny --size 64 --batch 2 --memory \
        --out work_dirs/bench/brainmvp3d.json
    python tools/benchmark/pretrain_speed.py --backbone resnet18 \
        --sweep-batch 8 16 32 --sweep-size 32 64 96 \
        --plot work_dirs/bench/resnet18_sweep.png \
        --out work_dirs/bench/resnet18_sweep.json

MICS uses its configs' settings: 128-d (demo) projection, and the queue
that ``MICSQueueSizeHook`` leaves on Kvasir v1 (half of its 2,800 training
images: 1,400 slots; ``--queue-size 65536`` measures the uncapped
public-code queue).
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

# (importing mics_mm registers its models, datasets and hooks)
from mics_mm.apis import enable_amp
from mics_mm.benchmark import BRAIN, KVASIR

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VIT_CONFIG = 'configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'

GROUPS = {
    'resnet18': dict(
        methods=('mics', 'simclr', 'mocov3', 'byol'), reference='simclr'),
    'vit-tiny': dict(
        methods=('mics', 'simclr', 'mae', 'floor'), reference='simclr'),
    'mri-vit-tiny': dict(methods=('brainmvp', 'mae'), reference='mae'),
    'uniformer3d': dict(
        methods=('brainmvp', 'brainmvp-dense', 'floor'), reference='floor'),
}
#: the BrainMVP 3D config (its templates, optimizer and loss weights)
BRAINMVP_3D = ('configs/brainmvp/'
               'brainmvp_uniformer-s_8xb2-coslr-1500e_brats-96px.py')
#: canvas origin of the 3D samples (a 96^3 patch fits the 240^2 x 155
#: canvas there)
CANVAS_OFFSET_3D = (72, 72, 30)
#: target ratios of the issue: MICS vs SimCLR, BrainMVP 2D vs MAE
TARGETS = {
    ('resnet18', 'mics'): 2.4,
    ('vit-tiny', 'mics'): 1.8,
    ('mri-vit-tiny', 'brainmvp'): 1.5,
    ('uniformer3d', 'brainmvp'): 1.3,
}
# Which config each method runs with, and how many data images it reads
# per sample: the label-efficiency benchmark's tables (mics_mm.benchmark),
# so that both benchmarks measure the same configs (the MRI group is its
# brain task's ViT-tiny; SimCLR on ViT-tiny has no demo config and is
# built below).
_TASK = {'resnet18': KVASIR, 'vit-tiny': KVASIR, 'mri-vit-tiny': BRAIN}


def config_of(backbone: str, method: str) -> str:
    """The demo config ``method`` pre-trains with in the ``backbone``
    group (MRI: the brain task's ViT-tiny config)."""
    key = 'vit-tiny' if backbone == 'mri-vit-tiny' else backbone
    return _TASK[backbone]['pretrain'][method][key]


def images_per_sample(backbone: str, method: str) -> int:
    """Data images a method reads per sample: both modalities on Kvasir
    (MAE takes each as a sample of its own); one stack of the sampled
    modalities on MRI (BrainMVP encodes it twice: compute, which the step
    time shows, not data)."""
    if backbone == 'uniformer3d':
        return 1  # one stack of sampled modalities per sample
    if method == 'floor':
        method = 'mics'  # the MICS step's floor reads what MICS reads
    return _TASK[backbone]['images_per_sample'][method]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backbone', choices=sorted(GROUPS),
                        default='resnet18')
    parser.add_argument('--methods', nargs='+',
                        help='default: every method of the group')
    parser.add_argument('--arch', choices=['tiny', 's'], default='tiny',
                        help='UniFormer3D of the uniformer3d group')
    parser.add_argument('--template-sizes', nargs='*', type=int,
                        default=[32, 64],
                        help='uniformer3d: patch sizes at which the template '
                        'update alone is timed, dense vs lazy AdamW')
    parser.add_argument(
        '--clock', choices=sorted(CLOCK), default='wall',
        help='wall time, or CPU time of the process (all threads): steadier '
        'on a shared machine; CPU only')
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--iters', type=int, default=3,
                        help='timed steps per method per round')
    parser.add_argument('--rounds', type=int, default=8)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--queue-size',
        type=int,
        default=1400,
        help='MICS consistency queue length (default: what '
        'MICSQueueSizeHook gives on Kvasir v1, 0.5 x 2,800 training images)')
    parser.add_argument(
        '--consistency-from',
        choices=['config', 'full', 'masked'],
        default='config',
        help='MICS online consistency features from a separate full pass '
        "(the public code), from the masked pass, or as the config says "
        '(ResNet configs: masked; ViT configs: full)')
    parser.add_argument('--memory', action='store_true',
                        help='measure the peak memory of a step per method '
                        '(a fresh process each)')
    parser.add_argument('--sweep-batch', nargs='+', type=int, default=[])
    parser.add_argument('--sweep-size', nargs='+', type=int, default=[])
    parser.add_argument('--plot', help='PNG of the sweep')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (AmpOptimWrapper; GPU)')
    parser.add_argument(
        '--data',
        default='data/kvasir_demo_synthetic',
        help='Kvasir-layout folder for the loader timing (made if missing)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--loader-batches', type=int, default=10,
                        help='0 skips the loader timing')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--_memory-probe', dest='memory_probe',
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    group = GROUPS[args.backbone]
    args.methods = list(args.methods or group['methods'])
    unknown = set(args.methods) - set(group['methods'])
    if unknown:
        parser.error(f'{sorted(unknown)} not in the {args.backbone} group '
                     f'{group["methods"]}')
    if group['reference'] not in args.methods:
        args.methods.insert(0, group['reference'])
    if args.amp and args.device != 'cuda':
        parser.error('--amp needs --device cuda')
    if args.clock == 'cpu' and args.device != 'cpu':
        parser.error('--clock cpu times CPU runs only')
    return args


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------
def _mics_model(args, backbone: str, size: int):
    cfg = Config.fromfile(osp.join(ROOT, config_of(backbone, 'mics')))
    model = copy.deepcopy(cfg.model)
    model.head.update(queue_size=args.queue_size)
    if args.consistency_from != 'config':
        model.consistency_from_masked = args.consistency_from == 'masked'
    if backbone.startswith('vit'):
        patch = model.backbone.patch_size
        model.backbone.img_size = size
        model.recon_neck.num_patches = (size // patch)**2
    model.data_preprocessor = cfg.data_preprocessor
    return model, cfg.optim_wrapper


def _simclr_vit(size: int):
    """SimCLR with the ViT-tiny the MICS / MAE ViT configs use."""
    model = dict(
        type='SimCLR',
        backbone=dict(type='VisionTransformer', arch='deit-tiny',
                      img_size=size, patch_size=8, out_type='cls_token'),
        neck=dict(type='NonLinearNeck', in_channels=192, hid_channels=512,
                  out_channels=128, num_layers=2, with_avg_pool=False),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                  temperature=0.1),
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], to_rgb=True))
    optim = dict(type='OptimWrapper',
                 optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.02))
    return model, optim


def model_cfg(args, method: str, size: int):
    """(model config, optimizer wrapper config) of a method in the group."""
    backbone = args.backbone
    if method in ('mics', 'floor'):
        return _mics_model(args, backbone, size)
    if backbone == 'vit-tiny' and method == 'simclr':
        return _simclr_vit(size)
    cfg = Config.fromfile(osp.join(ROOT, config_of(backbone, method)))
    model = copy.deepcopy(cfg.model)
    if 'data_preprocessor' not in model and cfg.get('data_preprocessor'):
        model.data_preprocessor = cfg.data_preprocessor
    if backbone.endswith('vit-tiny'):
        patch = model.backbone.patch_size
        model.backbone.img_size = size
        if method == 'mae':
            model.neck.num_patches = (size // patch)**2
    return model, cfg.optim_wrapper


def brainmvp_3d_cfg(arch: str):
    """(model config, optimizer wrapper config) of the BrainMVP 3D config
    with the UniFormer3D ``arch`` (``tiny``: the 3D demo config's sizes)."""
    cfg = Config.fromfile(osp.join(ROOT, BRAINMVP_3D))
    model = copy.deepcopy(cfg.model)
    if arch == 'tiny':
        model.backbone.arch = 'tiny'
        model.neck.update(in_channels=128, hid_channels=256, out_channels=64)
        # stride-4 stem: stride 32, five x2 transposed convolutions back
        model.recon_neck.update(in_channels=128,
                                channels=(64, 32, 16, 16, 16))
    return model, copy.deepcopy(cfg.optim_wrapper)


class FloorViT(torch.nn.Module):
    """The floor of the MICS ViT step (``vit-tiny`` group): the MICS
    model's encoder (MAEViT), projection neck and momentum encoder on the
    2N images of both modalities (one batch, as MICS sends them): a full
    forward + backward of the encoder and neck, the momentum encoder's EMA
    update and its forward without gradient, and an MAE-masked forward +
    backward of the encoder (its ``mask_ratio``: 75 % of the tokens
    dropped). The loss is the mean square of the projection plus that of
    the masked tokens: no reconstruction decoder, consistency head and
    queue, or discriminator (and its own optimizer step)."""

    def __init__(self, mics) -> None:
        super().__init__()
        self.data_preprocessor = mics.data_preprocessor
        self.backbone = mics.backbone
        self.neck = mics.neck
        self.momentum_encoder = mics.momentum_encoder
        self.modalities = mics.modalities

    def train_step(self, data: dict, optim_wrapper) -> dict:
        from mics_mm.models.utils import global_feature
        with optim_wrapper.optim_context(self):
            inputs = self.data_preprocessor(data, True)['inputs']
            x = torch.cat([inputs[m] for m in self.modalities])
            full = self.backbone(x, mask=None)[-1]
            z = self.neck((global_feature(full), ))[0]
            latent = self.backbone(x, mask=True)[0]
            loss = z.square().mean() + latent.square().mean()
            with torch.no_grad():
                self.momentum_encoder.update_parameters(
                    torch.nn.Sequential(self.backbone, self.neck))
                m_backbone, m_neck = self.momentum_encoder.module
                m_neck((global_feature(m_backbone(x, mask=None)[-1]), ))
        optim_wrapper.update_params(loss)
        return dict(loss=loss.detach())


class Floor3D(torch.nn.Module):
    """The BrainMVP 3D step without masking, templates or CL: its encoder
    and decoder on two unmasked one-channel views (the target modality and
    a second one) in one pass at batch 2N, the loss ``10 * MSE(view 1) +
    MSE(view 2)`` against the target, as BrainMVP computes it."""

    def __init__(self, brainmvp) -> None:
        super().__init__()
        self.backbone = brainmvp.backbone
        self.recon_neck = brainmvp.recon_neck
        self.recon_head = brainmvp.recon_head
        self.weights = (brainmvp.loss_weights['md'],
                        brainmvp.loss_weights['cmr'])

    def train_step(self, data: dict, optim_wrapper) -> dict:
        x = data['inputs'].float()
        n = x.size(0)
        target = x[:, :1]
        with optim_wrapper.optim_context(self):
            pred = self.recon_neck(
                self.backbone(torch.cat([target, x[:, 1:2]])))
            loss = sum(w * self.recon_head.loss(p, target)
                       for w, p in zip(self.weights, pred.split(n)))
        optim_wrapper.update_params(loss)
        return dict(loss=loss.detach())


def build_3d(args, method: str):
    """The uniformer3d group's models: BrainMVP 3D (lazy or dense AdamW on
    the templates) and its floor."""
    from mics_mm.registry import MODELS
    model_c, optim_c = brainmvp_3d_cfg(args.arch)
    model = MODELS.build(model_c)
    model.init_weights()
    model.to(args.device)
    model.train()
    model.use_cl = True  # the costlier phase of the schedule
    optim_c.update(sparse_templates=method != 'brainmvp-dense')
    if method == 'floor':
        model = Floor3D(model)
        optim_c = dict(type='OptimWrapper', optimizer=optim_c.optimizer)
    if args.amp:
        enable_amp(optim_c)
    return model, build_optim_wrapper(model, optim_c)


def build(args, method: str, size: int):
    from mmpretrain.registry import MODELS
    if args.backbone == 'uniformer3d':
        return build_3d(args, method)
    model_c, optim_c = model_cfg(args, method, size)
    model = MODELS.build(model_c)
    model.init_weights()
    model.to(args.device)
    model.train()
    if method == 'brainmvp':
        model.use_cl = True  # the costlier phase of the schedule
    optim_c = copy.deepcopy(optim_c)
    if method == 'floor':
        # the MICS model's parts, and its encoder's optimizer (no
        # discriminator)
        model = FloorViT(model)
        gen = optim_c.generator
        optim_c = dict(type=gen.type, optimizer=gen.optimizer,
                       paramwise_cfg=gen.get('paramwise_cfg'))
        if optim_c['paramwise_cfg'] is None:
            optim_c.pop('paramwise_cfg')
    if args.amp:
        # AmpOptimWrapper(s), as ``tools/train.py --amp`` makes them
        enable_amp(optim_c)
    return model, build_optim_wrapper(model, optim_c)


def fake_batch(args, method: str, size: int, batch: int) -> dict:
    """The same random batch every step, in the method's input layout."""
    g = torch.Generator().manual_seed(0)
    if args.backbone == 'uniformer3d':
        from mmpretrain.structures import DataSample
        x = torch.rand(batch, 4, size, size, size, generator=g)
        samples = [
            DataSample(metainfo=dict(
                modalities=('flair', 't1', 't1c', 't2'),
                canvas_offset=CANVAS_OFFSET_3D,
                canvas_shape=(240, 240, 155))) for _ in range(batch)
        ]
        return dict(inputs=x.to(args.device), data_samples=samples)

    def rgb():
        return [
            torch.randint(0, 256, (3, size, size), generator=g).to(
                torch.uint8) for _ in range(batch)
        ]

    if args.backbone == 'mri-vit-tiny':
        from mmpretrain.structures import DataSample
        x = torch.rand(batch, 4, size, size, generator=g)
        samples = [
            DataSample(metainfo=dict(
                modalities=('flair', 't1', 't2', 'pd'),
                canvas_offset=(0, 0, 0), canvas_axis=2, slice_index=40,
                canvas_shape=(98, 116, 94))) for _ in range(batch)
        ]
        return dict(inputs=x, data_samples=samples)
    if method in ('mics', 'floor'):
        return dict(inputs=dict(wli=rgb(), nbi=rgb()), data_samples=None)
    # SimCLR, MoCo v3, BYOL: two views; MAE: the two modalities, which its
    # ViewsAsBatchDataPreprocessor makes 2 x batch samples
    return dict(
        inputs=[torch.stack(rgb()), torch.stack(rgb())],
        data_samples=[None] * batch)


#: the clock of every timing: wall time, or (``--clock cpu``) the CPU time
#: of this process, all its threads together, which a busy shared machine
#: disturbs less (waiting for a core is not counted)
CLOCK = {'wall': time.perf_counter, 'cpu': time.process_time}
_clock = CLOCK['wall']


def time_steps(model, optim, data, n: int, device: str) -> float:
    if device == 'cuda':
        torch.cuda.synchronize()
    start = _clock()
    for _ in range(n):
        model.train_step(copy.copy(data), optim)
    if device == 'cuda':
        torch.cuda.synchronize()
    return _clock() - start


def timing(args, size: int, batch: int) -> Dict[str, dict]:
    """Alternating-round timing of every method at one (size, batch)."""
    torch.manual_seed(0)
    built = {m: build(args, m, size) for m in args.methods}
    data = {m: fake_batch(args, m, size, batch) for m in args.methods}
    for m, (model, optim) in built.items():
        time_steps(model, optim, data[m], args.warmup, args.device)
    seconds: Dict[str, List[float]] = {m: [] for m in args.methods}
    ratios: Dict[str, List[float]] = {m: [] for m in args.methods}
    ref = GROUPS[args.backbone]['reference']
    for _ in range(args.rounds):
        this = {}
        for m, (model, optim) in built.items():
            this[m] = time_steps(model, optim, data[m], args.iters,
                                 args.device) / args.iters
            seconds[m].append(this[m])
        for m in args.methods:
            ratios[m].append(this[m] / this[ref])
    out = {}
    for m in args.methods:
        s = statistics.median(seconds[m])
        out[m] = dict(
            s_per_iter=s,
            ratio=statistics.median(ratios[m]),
            ratio_per_round=[round(r, 3) for r in ratios[m]],
            images_per_s=batch * images_per_sample(args.backbone, m) / s,
            samples_per_s=batch / s)
    if 'mics' in built:
        out['mics']['consistency_from_masked'] = bool(
            built['mics'][0].consistency_from_masked)
    return out


# --------------------------------------------------------------------------
# Memory (a fresh process per method)
# --------------------------------------------------------------------------
def _status_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def memory_probe(args, method: str) -> dict:
    """Peak memory of a few steps of ``method`` (in this fresh process)."""
    torch.manual_seed(0)
    model, optim = build(args, method, args.size)
    data = fake_batch(args, method, args.size, args.batch)
    time_steps(model, optim, data, 1, args.device)  # optimizer state exists
    if args.device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        time_steps(model, optim, data, 2, args.device)
        peak = torch.cuda.max_memory_allocated()
        return dict(step_peak_mb=(peak - base) / 2**20,
                    peak_mb=peak / 2**20, kind='cuda allocated')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM (peak resident set) to the current RSS
    base = _status_kb('VmRSS')
    time_steps(model, optim, data, 2, args.device)
    peak = _status_kb('VmHWM')
    return dict(step_peak_mb=(peak - base) / 1024, peak_mb=peak / 1024,
                kind='cpu resident set')


def memory(args, argv: List[str]) -> Dict[str, dict]:
    out = {}
    for m in args.methods:
        proc = subprocess.run(
            [sys.executable, __file__, *argv, '--_memory-probe', m],
            capture_output=True, text=True, cwd=ROOT, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f'memory probe of {m} failed:\n'
                               f'{proc.stderr[-3000:]}')
        out[m] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = out[GROUPS[args.backbone]['reference']]['step_peak_mb']
    for m in out:
        out[m]['ratio'] = out[m]['step_peak_mb'] / ref if ref > 0 else None
    return out


# --------------------------------------------------------------------------
# BrainMVP templates (uniformer3d group)
# --------------------------------------------------------------------------
def template_memory(args) -> dict:
    """Bytes of the BrainMVP 3D config's templates and of what training
    them keeps: gradient and AdamW's two moments, dense and lazy alike."""
    model_c, _ = brainmvp_3d_cfg(args.arch)
    num = model_c.templates.num_modalities
    canvas = list(model_c.templates.canvas)
    voxels = num
    for c in canvas:
        voxels *= c
    size = voxels * 4  # float32
    return dict(
        shape=[num] + canvas, parameters=voxels, param_bytes=size,
        grad_bytes=size, adamw_moments_bytes=2 * size,
        total_bytes=4 * size, lazy_adamw_saves_bytes=0,
        note='the lazy update saves time, not memory: the gradient stays '
        'a dense tensor (DDP, AMP unscaling and gradient clipping see an '
        'ordinary gradient) and the moments cover every voxel a crop '
        'ever reached')


def template_update_times(args, sizes: List[int], batch: int,
                          reps: int = 3) -> List[dict]:
    """Seconds of the optimizer step on the templates alone (8 x 240 x 240
    x 155), dense AdamW vs ``BrainMVPSparseTemplateAdamW``, after the crops of one
    MD view (``batch`` samples, each of another template: the most boxes),
    and of that crop's forward + backward."""
    from mics_mm.engine.optimizers import BrainMVPSparseTemplateAdamW
    from mics_mm.models.utils.modality_templates import \
        BrainMVPModalityTemplates
    model_c, optim_c = brainmvp_3d_cfg(args.arch)
    hyper = {k: v for k, v in optim_c.optimizer.items() if k != 'type'}
    rows = []
    for size in sizes:
        row = dict(size=size, batch=batch)
        for kind in ('dense', 'lazy'):
            torch.manual_seed(0)
            cfg = {k: v for k, v in model_c.templates.items() if k != 'type'}
            module = BrainMVPModalityTemplates(**cfg).to(args.device)
            if kind == 'dense':
                opt = torch.optim.AdamW(module.parameters(), **hyper)
            else:
                opt = BrainMVPSparseTemplateAdamW(module.parameters(), **hyper)
                opt.attach(module.templates, module)
            modality = torch.arange(batch) % module.templates.shape[0]
            offset = torch.tensor([CANVAS_OFFSET_3D] * batch)
            step_s, crop_s = [], []
            for _ in range(reps + 1):  # the first step makes the moments
                if args.device == 'cuda':
                    torch.cuda.synchronize()
                start = _clock()
                crops = module.crop(modality, offset, (size, ) * 3)
                crops.square().mean().backward()
                if args.device == 'cuda':
                    torch.cuda.synchronize()
                mid = _clock()
                opt.step()
                if args.device == 'cuda':
                    torch.cuda.synchronize()
                step_s.append(_clock() - mid)
                crop_s.append(mid - start)
                opt.zero_grad()
            row[f'{kind}_update_s'] = statistics.median(step_s[1:])
            row[f'{kind}_crop_fwd_bwd_s'] = statistics.median(crop_s[1:])
            del module, opt
        row['update_speedup'] = row['dense_update_s'] / row['lazy_update_s']
        rows.append(row)
    return rows


def step_breakdown(args, reps: int = 3) -> Dict[str, dict]:
    """Median seconds of the parts of a step, per method of the uniformer3d
    group: ``views`` (masking and template crops, BrainMVP only),
    ``backward``, ``optimizer`` (the update) and ``zero_grad``, timed by
    wrapping those calls; ``forward`` is the rest of the step (encoder,
    decoder, losses)."""
    out = {}
    for method in args.methods:
        torch.manual_seed(0)
        model, optim = build_3d(args, method)
        data = fake_batch(args, method, args.size, args.batch)
        spent: Dict[str, float] = {}

        def timed(name, fn):

            def call(*a, **kw):
                start = _clock()
                try:
                    return fn(*a, **kw)
                finally:
                    spent[name] = spent.get(name, 0.0) + (_clock() - start)

            return call

        if hasattr(model, 'views'):
            model.views = timed('views', model.views)
        optim.backward = timed('backward', optim.backward)
        optim.step = timed('optimizer', optim.step)
        optim.zero_grad = timed('zero_grad', optim.zero_grad)
        rows: Dict[str, List[float]] = {}
        for i in range(reps + 1):  # the first step makes AdamW's moments
            spent.clear()
            total = time_steps(model, optim, data, 1, args.device)
            if i == 0:
                continue
            parts = dict(spent)
            parts['forward'] = total - sum(parts.values())
            parts['total'] = total
            for k, v in parts.items():
                rows.setdefault(k, []).append(v)
        out[method] = {k: statistics.median(v) for k, v in rows.items()}
        del model, optim
    return out


# --------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------
def loader_throughput(args) -> dict:
    """Samples/s of the real MICS data pipeline over the demo data."""
    from mmengine.runner import Runner
    data = osp.join(ROOT, args.data)
    if not osp.isfile(osp.join(data, 'README.txt')):
        subprocess.run([
            sys.executable, 'tools/data/make_demo_kvasir.py', '--out', data
        ], cwd=ROOT, check=True)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/mics/pretrain_kvasir_demo.py'))
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.dataset.update(data_root=data, ann_file='')
    loader_cfg.dataset.pipeline[2].transforms[0].scale = args.size
    loader_cfg.update(
        batch_size=args.batch,
        num_workers=args.workers,
        persistent_workers=args.workers > 0)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    it = iter(loader)
    next(it)  # worker start-up
    start = time.perf_counter()
    n = 0
    for _ in range(args.loader_batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        n += len(batch['data_samples'])
    seconds = time.perf_counter() - start
    return dict(
        loader_samples_per_s=n / seconds,
        loader_workers=args.workers,
        loader_batches=args.loader_batches)


def plot_sweep(sweep: Dict[str, list], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [k for k in ('batch', 'size') if sweep.get(k)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8),
                             squeeze=False)
    for ax, key in zip(axes[0], panels):
        points = sweep[key]
        methods = list(points[0]['methods'])
        for m in methods:
            ax.plot([p[key] for p in points],
                    [p['methods'][m]['s_per_iter'] for p in points],
                    marker='o', label=m)
        ax.set_xlabel('batch (samples)' if key == 'batch' else
                      'image size (px)')
        ax.set_ylabel('seconds per iteration')
        ax.set_title(f'step time vs {key}')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(result: dict, command: str) -> str:
    """The figures of one run as Markdown tables (for docs/benchmarks.md)."""
    ref = result['reference']
    mem = result.get('memory', {})
    size_text = f'{result["size"]} px'
    if result.get('arch'):
        size_text = (f'{result["size"]}^3 voxels, UniFormer3D '
                     f'{result["arch"]}')
    lines = [
        f'`{command}`  ',
        f'{result["device"]}, {result["machine"]}, torch {result["torch"]}'
        f', {result["torch_threads"]} threads, AMP {result["amp"]}; batch '
        f'{result["batch"]} samples, {size_text}; '
        f'{result.get("clock", "wall")} clock; median of '
        f'{len(next(iter(result["methods"].values()))["ratio_per_round"])} '
        'alternating rounds', '',
        f'| method | s / iteration | x {ref} | images / s | step peak MB '
        f'| memory x {ref} | target |', '| --- | --- | --- | --- | --- | '
        '--- | --- |'
    ]
    for m, v in result['methods'].items():
        target = result['targets'].get(m)
        tgt = '' if target is None else (
            f'<= {target["target"]}: '
            f'{"met" if target["meets"] else "missed"}')
        peak = mem.get(m, {})
        peak_mb = '-' if not peak else f'{peak["step_peak_mb"]:.0f}'
        peak_ratio = '-' if peak.get('ratio') is None else \
            f'{peak["ratio"]:.2f}'
        lines.append(
            f'| {m} | {v["s_per_iter"]:.3f} | **{v["ratio"]:.2f}** | '
            f'{v["images_per_s"]:.1f} | {peak_mb} | {peak_ratio} | {tgt} |')
    if 'mics_over_floor' in result:
        over = result['mics_over_floor']
        lines += [
            '', f'MICS / floor: **{over["ratio"]:.2f}** (median of the '
            'per-round ratios, '
            f'{min(over["ratio_per_round"]):.2f}-'
            f'{max(over["ratio_per_round"]):.2f}).'
        ]
    for key, points in result.get('sweep', {}).items():
        methods = list(points[0]['methods'])
        lines += [
            '', f'Step time (s) vs {key} '
            f'({"image size " + str(result["size"]) + " px" if key == "batch" else "batch " + str(result["batch"])}'
            f'), ratio to {ref} in brackets:', '',
            f'| {key} | ' + ' | '.join(methods) + ' |',
            '| --- |' + ' --- |' * len(methods)
        ]
        for p in points:
            cells = [
                f'{p["methods"][m]["s_per_iter"]:.3f} '
                f'({p["methods"][m]["ratio"]:.2f})' for m in methods
            ]
            lines.append(f'| {p[key]} | ' + ' | '.join(cells) + ' |')
    if 'templates' in result:
        mem = result['templates']['memory']
        mb = 2**20
        lines += [
            '', f'Templates {" x ".join(map(str, mem["shape"]))} float32 '
            f'({mem["parameters"] / 1e6:.1f} M voxels): parameters '
            f'{mem["param_bytes"]:,} B ({mem["param_bytes"] / mb:.0f} MiB), '
            f'gradient {mem["grad_bytes"]:,} B, AdamW moments '
            f'{mem["adamw_moments_bytes"]:,} B; in all '
            f'{mem["total_bytes"]:,} B ({mem["total_bytes"] / mb:.0f} MiB), '
            'the same with the lazy update (it saves time, not memory).', '',
            'Template update alone (optimizer step on the templates after '
            'one MD view\'s crops), seconds:', '',
            '| patch | batch | dense AdamW | lazy AdamW | x faster | crop '
            'fwd + bwd |', '| --- | --- | --- | --- | --- | --- |'
        ]
        for row in result['templates']['update']:
            lines.append(
                f'| {row["size"]}^3 | {row["batch"]} | '
                f'{row["dense_update_s"]:.3f} | {row["lazy_update_s"]:.4f} | '
                f'{row["update_speedup"]:.0f} | '
                f'{row["lazy_crop_fwd_bwd_s"]:.3f} |')
    if 'breakdown' in result:
        parts = ('views', 'forward', 'backward', 'optimizer', 'zero_grad',
                 'total')
        lines += [
            '', 'Where a step goes (seconds, median of 3 steps, each method '
            'alone):', '', '| method | ' + ' | '.join(parts) + ' |',
            '| --- |' + ' --- |' * len(parts)
        ]
        for m, row in result['breakdown'].items():
            lines.append(f'| {m} | ' + ' | '.join(
                f'{row[k]:.3f}' if k in row else '-' for k in parts) + ' |')
    if 'loader_samples_per_s' in result:
        lines += [
            '', f'Data loader (real MICS pipeline, demo images, '
            f'{result["loader_workers"]} workers): '
            f'{result["loader_samples_per_s"]:.0f} samples / s.'
        ]
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    global _clock
    _clock = CLOCK[args.clock]
    DefaultScope.get_instance('pretrain_speed', scope_name='mics_mm')
    # Momentum encoders (MoCo v3, BYOL) read the schedule length from the
    # message hub that a Runner would fill.
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', 10000)
    if args.memory_probe:
        print(json.dumps(memory_probe(args, args.memory_probe)))
        return {}
    group = GROUPS[args.backbone]
    per_method = timing(args, args.size, args.batch)
    ref = group['reference']
    result = dict(
        backbone=args.backbone,
        batch=args.batch,
        size=args.size,
        queue_size=args.queue_size,
        arch=args.arch if args.backbone == 'uniformer3d' else None,
        reference=ref,
        methods=per_method,
        timed_steps_per_method=args.rounds * args.iters,
        torch_threads=torch.get_num_threads(),
        device=args.device if args.device == 'cpu' else
        torch.cuda.get_device_name(0),
        amp=args.amp,
        clock=args.clock,
        machine=f'{platform.machine()} {os.cpu_count()} cores',
        torch=torch.__version__)
    targets = {}
    for (backbone, method), target in TARGETS.items():
        if backbone == args.backbone and method in per_method:
            ratio = per_method[method]['ratio']
            targets[method] = dict(ratio=ratio, target=target,
                                   meets=ratio <= target)
    result['targets'] = targets
    # The keys of the first version of this benchmark (MICS vs SimCLR).
    if 'mics' in per_method and 'simclr' in per_method:
        result.update(
            mics_s_per_iter=per_method['mics']['s_per_iter'],
            simclr_s_per_iter=per_method['simclr']['s_per_iter'],
            ratio=per_method['mics']['ratio'],
            ratio_per_round=per_method['mics']['ratio_per_round'],
            consistency_from_masked=per_method['mics'][
                'consistency_from_masked'],
            step_samples_per_s=per_method['mics']['samples_per_s'])
        if 'mics' in targets:
            result.update(target_ratio=targets['mics']['target'],
                          meets_target=targets['mics']['meets'])
    if 'mics' in per_method and 'floor' in per_method and ref != 'floor':
        # vit-tiny: MICS against its floor, per round (robust to load as
        # the ratios to the reference are)
        per_round = [
            a / b for a, b in zip(per_method['mics']['ratio_per_round'],
                                  per_method['floor']['ratio_per_round'])
        ]
        result['mics_over_floor'] = dict(
            ratio=statistics.median(per_round),
            ratio_per_round=[round(r, 3) for r in per_round])
    if args.memory:
        result['memory'] = memory(args, argv)
    if args.backbone == 'uniformer3d':
        result['templates'] = dict(
            memory=template_memory(args),
            update=template_update_times(args, args.template_sizes,
                                         args.batch))
        result['breakdown'] = step_breakdown(args)
    sweep = {}
    if args.sweep_batch:
        sweep['batch'] = [
            dict(batch=b, methods=timing(args, args.size, b))
            for b in args.sweep_batch
        ]
    if args.sweep_size:
        sweep['size'] = [
            dict(size=s, methods=timing(args, s, args.batch))
            for s in args.sweep_size
        ]
    if sweep:
        result['sweep'] = sweep
        if args.plot:
            os.makedirs(osp.dirname(osp.abspath(args.plot)), exist_ok=True)
            plot_sweep(sweep, args.plot,
                       f'{args.backbone}: step time ({result["device"]})')
    if args.loader_batches and args.backbone not in ('mri-vit-tiny',
                                                     'uniformer3d'):
        result.update(loader_throughput(args))
        if 'step_samples_per_s' in result:
            result['loader_keeps_up'] = (
                result['loader_samples_per_s'] >=
                result['step_samples_per_s'])
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    table = markdown(
        result, 'python tools/benchmark/pretrain_speed.py ' + ' '.join(argv))
    with open(osp.splitext(args.out)[0] + '.md', 'w') as f:
        f.write(table)
    print(json.dumps(result, indent=2))
    print(table)
    return result


if __name__ == '__main__':
    main()
