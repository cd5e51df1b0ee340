"""Time one MICS pre-training step against mmpretrain's SimCLR.

Both methods get the same backbone, batch size and image size; a step is
``model.train_step`` (forward, backward, optimizer update: for MICS the
encoder step and the discriminator step). After a warm-up the two methods
are timed in alternating rounds in the same process, so machine noise hits
both alike; the reported ``ratio`` is the median of the per-round ratios,
which a burst of load on a shared machine cannot move much. The data
loader is timed separately on the real MICS pipeline
(loading, simulated NBI, shared crop/flip, per-modality jitter, packing)
over the demo data, to show whether it keeps up with the step.

Example (the figures in the README come from these commands)::

    python tools/benchmark/pretrain_speed.py --backbone resnet18 \
        --size 64 --batch 16 --out work_dirs/bench/resnet18.json
    python tools/benchmark/pretrain_speed.py --backbone vit-tiny \
        --size 64 --batch 16 --out work_dirs/bench/vit-tiny.json
    python tools/benchmark/pretrain_speed.py --backbone resnet18 \
        --size 64 --batch 16 --consistency-from full \
        --out work_dirs/bench/resnet18_full-pass.json
    python tools/benchmark/pretrain_speed.py --backbone vit-tiny \
        --size 64 --batch 16 --queue-size 65536 \
        --out work_dirs/bench/vit-tiny_queue65536.json

MICS uses its configs' settings: 256-d projection, and the queue that
``MicsQueueSizeHook`` leaves on Kvasir v1 (half of its 2,800 training
images: 1,400 slots; ``--queue-size 65536`` measures the uncapped public-code
queue); the ViT-tiny variant scales the MAE
decoder (128-d, 2 blocks) and the discriminator (2 blocks) down with the
encoder, as the demo config does for ResNet-18.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TARGETS = {'resnet18': 2.4, 'vit-tiny': 1.8}
VIT_CONFIG = 'configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'

# Encoders shared by both methods.
BACKBONES = {
    'resnet18':
    dict(
        simclr=dict(type='ResNet', depth=18, zero_init_residual=True),
        mics=dict(type='MicsMaskedResNet', depth=18, mask_ratio=0.75),
        channels=512),
    'vit-tiny':
    dict(
        simclr=dict(
            type='VisionTransformer',
            arch='deit-tiny',
            patch_size=8,
            out_type='cls_token'),
        mics=dict(
            type='MAEViT', arch='deit-tiny', patch_size=8, mask_ratio=0.75),
        channels=192),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--backbone', choices=sorted(BACKBONES),
                        default='resnet18')
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
        help='consistency queue length (default: what MicsQueueSizeHook '
        'gives on Kvasir v1, 0.5 x 2,800 training images)')
    parser.add_argument(
        '--consistency-from',
        choices=['config', 'full', 'masked'],
        default='config',
        help='online consistency features from a separate full pass (the '
        "public code), from the masked pass, or as the config says "
        '(ResNet configs: masked; ViT configs: full)')
    parser.add_argument(
        '--data',
        default='data/kvasir_demo_synthetic',
        help='Kvasir-layout folder for the loader timing (made if missing)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--loader-batches', type=int, default=10)
    parser.add_argument('--out', required=True, help='JSON file to write')
    return parser.parse_args()


def mics_cfg(args, spec):
    """MICS model + optimizer from the demo config, encoder swapped."""
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/mics/pretrain_kvasir_demo.py'))
    model = copy.deepcopy(cfg.model)
    ch, size = spec['channels'], args.size
    model.backbone = dict(spec['mics'])
    model.neck.update(in_channels=ch, out_channels=256)
    model.head.update(feat_dim=256, queue_size=args.queue_size)
    model.discriminator.update(in_channels=ch)
    if args.consistency_from == 'config':
        # Follow the config of the backbone family (ViT: the public code's
        # separate full pass; ResNet: the masked pass).
        family = cfg.model if not args.backbone.startswith('vit') else \
            Config.fromfile(osp.join(ROOT, VIT_CONFIG)).model
        from_masked = family.get('consistency_from_masked', False)
    else:
        from_masked = args.consistency_from == 'masked'
    model.consistency_from_masked = from_masked
    if args.backbone.startswith('vit'):
        model.backbone.update(img_size=size)
        patch = spec['mics']['patch_size']
        model.recon_neck = dict(
            type='MAEPretrainDecoder',
            num_patches=(size // patch)**2,
            patch_size=patch,
            embed_dim=ch,
            decoder_embed_dim=128,
            decoder_depth=2,
            decoder_num_heads=4)
        model.recon_head = dict(
            type='MAEPretrainHead',
            norm_pix=True,
            patch_size=patch,
            loss=dict(type='PixelReconstructionLoss', criterion='L2'))
    else:
        model.backbone.update(mask_patch_size=16)
    model.data_preprocessor = cfg.data_preprocessor
    return model, cfg.optim_wrapper


def simclr_cfg(args, spec):
    """mmpretrain's SimCLR (model and LARS optimizer of its config)."""
    backbone = dict(spec['simclr'])
    vit = args.backbone.startswith('vit')
    if vit:
        backbone.update(img_size=args.size)
    model = dict(
        type='SimCLR',
        backbone=backbone,
        neck=dict(
            type='NonLinearNeck',
            in_channels=spec['channels'],
            hid_channels=2048,
            out_channels=128,
            num_layers=2,
            with_avg_pool=not vit),
        head=dict(
            type='ContrastiveHead',
            loss=dict(type='CrossEntropyLoss'),
            temperature=0.1),
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True))
    optim = dict(
        type='OptimWrapper',
        optimizer=dict(type='LARS', lr=0.3, momentum=0.9, weight_decay=1e-6))
    return model, optim


def build(model_cfg, optim_cfg):
    from mmpretrain.registry import MODELS
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    return model, build_optim_wrapper(model, optim_cfg)


def fake_batch(args, multimodal: bool):
    """The same random uint8 batch every step (two views / modalities)."""
    g = torch.Generator().manual_seed(0)

    def views():
        return [
            torch.randint(0, 256, (3, args.size, args.size),
                          generator=g).to(torch.uint8)
            for _ in range(args.batch)
        ]

    if multimodal:
        return dict(inputs=dict(wli=views(), nbi=views()), data_samples=None)
    wli, nbi = views(), views()
    return dict(
        inputs=[torch.stack(wli), torch.stack(nbi)],
        data_samples=[None] * args.batch)


def time_steps(model, optim, data, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        model.train_step(copy.copy(data), optim)
    return time.perf_counter() - start


def loader_throughput(args) -> dict:
    """Images/s of the real MICS data pipeline over the demo data."""
    import subprocess
    import sys

    from mmengine.runner import Runner
    data = osp.join(ROOT, args.data)
    if not osp.isfile(osp.join(data, 'README.txt')):
        subprocess.run([
            sys.executable, 'tools/data/make_demo_kvasir.py', '--out', data
        ],
                       cwd=ROOT,
                       check=True)
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


def main():
    args = parse_args()
    import mics_mm  # noqa: F401
    DefaultScope.get_instance('pretrain_speed', scope_name='mmpretrain')
    torch.manual_seed(0)
    spec = BACKBONES[args.backbone]
    mics, mics_optim = build(*mics_cfg(args, spec))
    simclr, simclr_optim = build(*simclr_cfg(args, spec))
    mics_data, simclr_data = fake_batch(args, True), fake_batch(args, False)
    time_steps(mics, mics_optim, mics_data, args.warmup)
    time_steps(simclr, simclr_optim, simclr_data, args.warmup)
    t_mics, t_simclr, per_round = [], [], []
    for _ in range(args.rounds):
        a = time_steps(mics, mics_optim, mics_data, args.iters)
        b = time_steps(simclr, simclr_optim, simclr_data, args.iters)
        t_mics.append(a / args.iters)
        t_simclr.append(b / args.iters)
        per_round.append(a / b)
    mics_s = statistics.median(t_mics)
    simclr_s = statistics.median(t_simclr)
    ratio = statistics.median(per_round)
    result = dict(
        backbone=args.backbone,
        batch=args.batch,
        size=args.size,
        queue_size=args.queue_size,
        consistency_from_masked=bool(mics.consistency_from_masked),
        mics_s_per_iter=mics_s,
        simclr_s_per_iter=simclr_s,
        ratio=ratio,
        ratio_per_round=[round(r, 3) for r in per_round],
        target_ratio=TARGETS[args.backbone],
        meets_target=ratio <= TARGETS[args.backbone],
        step_samples_per_s=args.batch / mics_s,
        timed_steps_per_method=args.rounds * args.iters,
        torch_threads=torch.get_num_threads(),
        device='cpu',
        machine=f'{platform.machine()} {os.cpu_count()} cores',
        torch=torch.__version__,
    )
    result.update(loader_throughput(args))
    result['loader_keeps_up'] = (
        result['loader_samples_per_s'] >= result['step_samples_per_s'])
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
