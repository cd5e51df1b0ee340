"""Step time and peak memory of the full-size pre-training configs on one
GPU, with mixed precision: MICS beside mmpretrain's methods on the same
backbone, batch and image size.

Groups (the configs the paper-scale runs use, batch 32 samples per GPU):

- ``vit-base``: ViT-B/16 at 384 px: MICS
  (``configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py``),
  MAE (reference) and MoCo v3 (``configs/baselines/``);
- ``resnet50``: ResNet-50 at 224 px: MICS, SimCLR (reference) and BYOL.

A step is ``model.train_step`` on one fake batch kept on the device
(forward, backward, optimizer update; MICS: the encoder and the
discriminator step), with the config's optimizer wrapper(s) switched to
``AmpOptimWrapper`` as ``tools/train.py --amp`` does
(:func:`mics_mm.apis.enable_amp`; fp16 autocast, dynamic loss scale).
Every image a method reads counts in ``images_per_s``: the two modalities
(MICS, MAE: each a sample of its own) or the two views (MoCo v3, SimCLR,
BYOL).

The methods run one after another in one process (on a GPU the step time
barely moves between runs, unlike on a shared CPU, so no alternating
rounds as ``tools/benchmark/pretrain_speed.py`` needs): build, ``warmup``
steps, then ``iters`` steps, each timed between two
``torch.cuda.synchronize()`` calls (median reported). Peak memory:
``torch.cuda.max_memory_allocated`` over the timed steps (``peak_mb``:
model, optimizer state and the step's activations; ``step_peak_mb``: above
what was allocated before the steps), and the reserved peak. The model is
freed (``torch.cuda.empty_cache``) before the next.

One process, so ``SyncBN`` (the ResNet-50 configs) is plain BatchNorm here
(mmengine's ``revert_sync_batchnorm``). MICS's consistency queue is
``--queue-size`` long (default 1,400: what ``MICSQueueSizeHook`` leaves on
Kvasir v1, as in ``pretrain_speed.py``).

``--smoke``: the same code on the CPU with tiny shapes (narrow ViT /
ResNet-18 encoders, 32 / 64 px, batch 2) and without AMP (mmengine
0.10.7's ``AmpOptimWrapper`` needs an accelerator), so CI exercises it;
its figures say nothing about speed. ``tools/benchmark/gpu_check.sh`` runs
this module (``tools/benchmark/gpu_timing.py``) as its first check.
"""
import argparse
import copy
import gc
import json
import math
import os
import os.path as osp
import platform
import statistics
import time
from typing import Dict, List, Optional

import torch

__all__ = ['GROUPS', 'SMOKE', 'parse_args', 'measure', 'run_group',
           'markdown', 'main']

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: the full-size configs of each group, its image size and reference
GROUPS = {
    'vit-base': dict(
        size=384,
        reference='mae',
        configs=dict(
            mics='configs/mics/'
            'mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py',
            mae='configs/baselines/'
            'mae_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py',
            mocov3='configs/baselines/'
            'mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py')),
    'resnet50': dict(
        size=224,
        reference='simclr',
        configs=dict(
            mics='configs/mics/mics_resnet50_8xb32-coslr-100e_kvasir-224px.py',
            simclr='configs/baselines/'
            'simclr_resnet50_8xb32-coslr-100e_kvasir-224px.py',
            byol='configs/baselines/'
            'byol_resnet50_8xb32-coslr-100e_kvasir-224px.py')),
}

#: data images each method reads per sample (both modalities / two views)
IMAGES_PER_SAMPLE = dict(mics=2, mae=2, mocov3=2, simclr=2, byol=2)

_TINY_VIT = dict(embed_dims=64, num_layers=2, num_heads=2,
                 feedforward_channels=128)
_TINY_DISC = dict(arch='small', embed_dims=32, depth=1, num_heads=2)
_TINY_MAE_DECODER = dict(embed_dim=64, decoder_embed_dim=32,
                         decoder_depth=1, decoder_num_heads=2)
#: ResNet-18 at a quarter of the width: 128 output channels
_TINY_RESNET = {
    'backbone.depth': 18,
    'backbone.base_channels': 16,
    'backbone.stem_channels': 16
}

#: ``--smoke``: the image size of each group and the model edits (dotted
#: keys) that make the full-size configs tiny
SMOKE = {
    'vit-base': dict(
        size=32,
        edits=dict(
            mics={
                'backbone.arch': _TINY_VIT,
                'neck.in_channels': 64,
                'recon_neck': _TINY_MAE_DECODER,
                'discriminator': dict(in_channels=64, **_TINY_DISC),
            },
            mae={
                'backbone.arch': _TINY_VIT,
                'neck': _TINY_MAE_DECODER
            },
            mocov3={
                'backbone.arch': _TINY_VIT,
                'neck.in_channels': 64,
                'neck.hid_channels': 128,
                'head.predictor.hid_channels': 128
            })),
    'resnet50': dict(
        size=64,
        edits=dict(
            mics={
                **_TINY_RESNET,
                'neck.in_channels': 128,
                'recon_neck.in_channels': 128,
                'discriminator': dict(in_channels=128, **_TINY_DISC),
            },
            simclr={
                **_TINY_RESNET,
                'neck.in_channels': 128,
                'neck.hid_channels': 128
            },
            byol={
                **_TINY_RESNET,
                'neck.in_channels': 128,
                'neck.hid_channels': 128,
                'head.predictor.hid_channels': 128
            })),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--groups', nargs='+', choices=sorted(GROUPS),
                        default=['vit-base', 'resnet50'])
    parser.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    parser.add_argument('--amp', action='store_true',
                        help='AmpOptimWrapper (fp16 autocast, dynamic loss '
                        'scale), as tools/train.py --amp; GPU only')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny shapes (CPU check of the code path)')
    parser.add_argument('--batch', type=int,
                        help='samples per step (default 32; --smoke 2)')
    parser.add_argument('--warmup', type=int,
                        help='untimed steps (default 5; --smoke 1)')
    parser.add_argument('--iters', type=int,
                        help='timed steps (default 20; --smoke 2)')
    parser.add_argument('--queue-size', type=int,
                        help='MICS queue length (default 1400; --smoke 64)')
    parser.add_argument('--out', required=True,
                        help='JSON file to write (and a .md beside it)')
    args = parser.parse_args(argv)
    defaults = dict(batch=(32, 2), warmup=(5, 1), iters=(20, 2),
                    queue_size=(1400, 64))
    for key, (full, smoke) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, smoke if args.smoke else full)
    if args.amp and args.device != 'cuda':
        parser.error('--amp needs --device cuda: mmengine\'s '
                     'AmpOptimWrapper does not run on the CPU')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error(
            f'--device cuda, but torch {torch.__version__} (built for CUDA '
            f'{torch.version.cuda}) cannot use a GPU here; no CPU fallback '
            '(use --device cpu --smoke for the CPU check)')
    if args.iters < 1 or args.batch < 1:
        parser.error('--iters and --batch must be positive')
    return args


# --------------------------------------------------------------------------
# Models and batches
# --------------------------------------------------------------------------
def _set(cfg: dict, dotted: str, value) -> None:
    keys = dotted.split('.')
    for key in keys[:-1]:
        cfg = cfg[key]
    if isinstance(value, dict) and isinstance(cfg.get(keys[-1]), dict):
        cfg[keys[-1]].update(copy.deepcopy(value))
    else:
        cfg[keys[-1]] = copy.deepcopy(value)


def model_cfg(group: str, method: str, smoke: bool, queue_size: int):
    """(model config, optimizer wrapper config, image size) of ``method``
    in ``group``: the full-size config at the group's size, or (``smoke``)
    its tiny version."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, GROUPS[group]['configs'][method]))
    model = copy.deepcopy(cfg.model)
    if 'data_preprocessor' not in model and cfg.get('data_preprocessor'):
        model.data_preprocessor = copy.deepcopy(cfg.data_preprocessor)
    size = SMOKE[group]['size'] if smoke else GROUPS[group]['size']
    if smoke:
        for key, value in SMOKE[group]['edits'][method].items():
            _set(model, key, value)
    if method == 'mics':
        model.head.queue_size = queue_size
    if group == 'vit-base':
        model.backbone.img_size = size
        num_patches = (size // model.backbone.patch_size)**2
        if method == 'mics':
            model.recon_neck.num_patches = num_patches
        elif method == 'mae':
            model.neck.num_patches = num_patches
    return model, copy.deepcopy(cfg.optim_wrapper), size


def build(group: str, method: str, args):
    """The model (on ``args.device``, SyncBN reverted) and its optimizer
    wrapper(s) (AMP with ``args.amp``)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    from mics_mm.apis import enable_amp
    model_c, optim_c, size = model_cfg(group, method, args.smoke,
                                       args.queue_size)
    model = MODELS.build(model_c)
    model.init_weights()
    model = revert_sync_batchnorm(model)
    model.to(args.device)
    model.train()
    if args.amp:
        enable_amp(optim_c)  # AmpOptimWrapper(s), as tools/train.py --amp
    return model, build_optim_wrapper(model, optim_c), size


def fake_batch(method: str, size: int, batch: int, device: str) -> dict:
    """One random uint8 batch in the method's input layout, on ``device``
    (the data preprocessor then finds it there)."""
    g = torch.Generator().manual_seed(0)

    def images():
        return torch.randint(0, 256, (batch, 3, size, size), generator=g,
                             dtype=torch.uint8).to(device)

    if method == 'mics':
        return dict(inputs=dict(wli=list(images()), nbi=list(images())),
                    data_samples=None)
    # MAE: the two modalities, which ViewsAsBatchDataPreprocessor makes
    # 2 x batch samples; the others: two views
    return dict(inputs=[images(), images()], data_samples=[None] * batch)


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------
def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def _status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_cpu_peak() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # VmHWM back to the current resident set
        return True
    except OSError:
        return False


def _loss_of(log_vars) -> float:
    """The step's total loss (``loss``, else the sum of the ``loss*``
    terms)."""
    log_vars = dict(log_vars)
    if 'loss' in log_vars:
        return float(torch.as_tensor(log_vars['loss']).detach())
    return sum(float(torch.as_tensor(v).detach())
               for k, v in log_vars.items() if k.startswith('loss'))


def measure(group: str, method: str, args) -> dict:
    """Build ``method``, run ``args.warmup`` steps, then time and measure
    ``args.iters`` steps."""
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model, optim, size = build(group, method, args)
    build_s = time.perf_counter() - t0
    data = fake_batch(method, size, args.batch, args.device)
    params = sum(p.numel() for p in model.parameters())
    for _ in range(args.warmup):
        model.train_step(copy.copy(data), optim)
    _sync(args.device)
    if args.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        memory_kind = 'cuda max_memory_allocated'
    else:
        memory_kind = ('cpu resident set (VmHWM)'
                       if _reset_cpu_peak() else None)
        base = (_status_kb('VmRSS') or 0) * 1024
    seconds, losses = [], []
    for _ in range(args.iters):
        _sync(args.device)
        start = time.perf_counter()
        log_vars = model.train_step(copy.copy(data), optim)
        _sync(args.device)
        seconds.append(time.perf_counter() - start)
        losses.append(_loss_of(log_vars))
    if args.device == 'cuda':
        peak = torch.cuda.max_memory_allocated()
        reserved = torch.cuda.max_memory_reserved()
    else:
        peak = (_status_kb('VmHWM') or 0) * 1024 if memory_kind else None
        reserved = None
    s = statistics.median(seconds)
    mb = 2**20
    out = dict(
        config=GROUPS[group]['configs'][method],
        size=size,
        batch=args.batch,
        params_m=params / 1e6,
        build_s=build_s,
        s_per_iter=s,
        s_per_iter_all=[round(x, 5) for x in seconds],
        samples_per_s=args.batch / s,
        images_per_s=args.batch * IMAGES_PER_SAMPLE[method] / s,
        loss_last=losses[-1],
        loss_finite=all(math.isfinite(x) for x in losses),
        memory_kind=memory_kind,
        peak_mb=None if peak is None else peak / mb,
        step_peak_mb=None if peak is None else max(peak - base, 0) / mb,
        reserved_peak_mb=None if reserved is None else reserved / mb)
    wrappers = optim.values() if hasattr(optim, 'values') else [optim]
    out['optim_wrappers'] = sorted({type(w).__name__ for w in wrappers})
    del model, optim, data
    gc.collect()
    if args.device == 'cuda':
        torch.cuda.empty_cache()
    return out


def run_group(group: str, args) -> dict:
    """Every method of ``group``; a method that fails is recorded with its
    error (and the run reports failure) instead of stopping the others."""
    methods: Dict[str, dict] = {}
    ref = GROUPS[group]['reference']
    for method in GROUPS[group]['configs']:
        try:
            methods[method] = measure(group, method, args)
        except Exception as err:  # noqa: BLE001 (recorded, run fails)
            import traceback
            methods[method] = dict(
                error=f'{type(err).__name__}: {err}',
                traceback=traceback.format_exc()[-3000:])
            gc.collect()
            if args.device == 'cuda':
                torch.cuda.empty_cache()
    ref_s = methods.get(ref, {}).get('s_per_iter')
    ref_mem = methods.get(ref, {}).get('peak_mb')
    for m in methods.values():
        if 'error' in m:
            continue
        m['ratio'] = m['s_per_iter'] / ref_s if ref_s else None
        m['memory_ratio'] = (m['peak_mb'] / ref_mem
                             if ref_mem and m['peak_mb'] is not None else
                             None)
    return dict(reference=ref, methods=methods)


def environment(device: str) -> dict:
    env = dict(torch=torch.__version__, torch_cuda=torch.version.cuda,
               machine=f'{platform.machine()} {os.cpu_count()} cores',
               torch_threads=torch.get_num_threads())
    if device == 'cuda':
        props = torch.cuda.get_device_properties(0)
        env.update(device=torch.cuda.get_device_name(0),
                   device_memory_mb=props.total_memory / 2**20,
                   capability='.'.join(
                       map(str, torch.cuda.get_device_capability(0))),
                   cudnn=torch.backends.cudnn.version())
    else:
        env.update(device='cpu')
    return env


def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def markdown(result: dict) -> str:
    """The figures of one run as Markdown tables."""
    env = result['environment']
    lines = [
        f'Pre-training step on {env["device"]} (torch {env["torch"]}, CUDA '
        f'{env["torch_cuda"]}), AMP {result["amp"]}, batch '
        f'{result["batch"]} samples per GPU, median of {result["iters"]} '
        f'steps after {result["warmup"]} warm-up steps'
        + (' (SMOKE: tiny shapes on the CPU; not a speed figure)'
           if result['smoke'] else '') + '.', ''
    ]
    for group, res in result['groups'].items():
        ref = res['reference']
        lines += [
            f'**{group}** (reference {ref})', '',
            f'| method | px | params (M) | s / step | x {ref} | images / s '
            f'| peak MB | step peak MB | memory x {ref} |',
            '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'
        ]
        for m, v in res['methods'].items():
            if 'error' in v:
                lines.append(f'| {m} | failed: {v["error"][:120]} '
                             '| | | | | | | |')
                continue
            lines.append(
                f'| {m} | {v["size"]} | {v["params_m"]:.1f} | '
                f'{v["s_per_iter"]:.4f} | **{_fmt(v["ratio"], ".2f")}** | '
                f'{v["images_per_s"]:.1f} | {_fmt(v["peak_mb"], ".0f")} | '
                f'{_fmt(v["step_peak_mb"], ".0f")} | '
                f'{_fmt(v["memory_ratio"], ".2f")} |')
        lines.append('')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope

    import mics_mm  # noqa: F401  (registers the models)
    DefaultScope.get_instance('gpu_timing', scope_name='mics_mm')
    # the current logger: no per-parameter init / paramwise INFO lines
    MMLogger.get_instance('gpu_timing', log_level='WARNING')
    # Momentum encoders (MoCo v3, BYOL) read the schedule length from the
    # message hub that a Runner would fill.
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    hub.update_info('max_iters', 10000)
    if args.device == 'cuda':
        torch.backends.cudnn.benchmark = True
    result = dict(
        environment=environment(args.device),
        smoke=args.smoke,
        amp=args.amp,
        batch=args.batch,
        warmup=args.warmup,
        iters=args.iters,
        queue_size=args.queue_size,
        groups={g: run_group(g, args) for g in args.groups})
    failed = [f'{g}/{m}' for g, r in result['groups'].items()
              for m, v in r['methods'].items() if 'error' in v]
    result['failed'] = failed
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    table = markdown(result)
    with open(osp.splitext(args.out)[0] + '.md', 'w') as f:
        f.write(table)
    print(table)
    for name in failed:
        g, m = name.split('/')
        trace = result['groups'][g]['methods'][m]['traceback']
        print(f'FAILED {name}:\n{trace}')
    return 1 if failed else 0
