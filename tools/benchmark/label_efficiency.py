"""Label-efficiency benchmark: MICS / BrainMVP against mmpretrain's methods,
pre-trained under one budget, fine-tuned at each labelled fraction and seed.

Kvasir (classification, ``--task kvasir``): every method in ``--methods``
(mics, simclr, mocov3, byol, mae, scratch) is pre-trained with its config
under ``configs/mics`` / ``configs/baselines`` on the same data, split,
pipeline family and backbone, with the same batch size and number of epochs
(so the same iterations and samples seen; the harness checks the logged
iteration counts and refuses unequal budgets). Each pre-trained encoder then
goes through the same fine-tuning protocols (``--protocols``: ``finetune``,
the MICS multimodal classifier trained end to end; ``linear``, frozen
encoders with a linear classifier) at each labelled fraction
(``splits/train_labeled_{p}pct.json``) and seed, for the same number of
iterations, and is tested on the test split (accuracy, macro F1, macro AUC).
``scratch`` fine-tunes randomly initialised encoders.

Brain MRI (segmentation, ``--task brain-seg``): BrainMVP against MAE and
from scratch on the demo brain set (``tools/data/make_brain_demo.py``),
fine-tuned through mmsegmentation on a fraction of the labelled subjects
and scored with per-case Dice on the held-out subjects.

Backbones: ``--backbones resnet18 vit-tiny``; a method runs on the backbones
it has a config for (MAE: ViT only; SimCLR / MoCo v3 / BYOL: ResNet-18 on
the demo), so each comparison is within one backbone.

Writes ``<out>/results.json`` (every run, the pre-training budgets, the
summary and the targets), ``<out>/results.md`` (mean +- std tables) and
``<out>/results.png`` (metric vs labelled fraction, one line per method).

Examples::

    python tools/benchmark/label_efficiency.py --quick --out work_dirs/bench/label_efficiency
    python tools/benchmark/label_efficiency.py --task brain-seg --quick \
        --out work_dirs/bench/label_efficiency_brain
    python tools/benchmark/label_efficiency.py --data data/kvasir \
        --methods mics simclr mocov3 byol mae scratch \
        --fractions 0.05 0.1 0.2 1.0 --seeds 0 1 2 --out work_dirs/bench/kvasir
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
import sys
import time
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# --------------------------------------------------------------------------
# What each method runs with, per task and backbone.
# --------------------------------------------------------------------------
KVASIR = dict(
    default_data='data/kvasir_demo_synthetic',
    pretrain={
        'mics': {
            'resnet18': 'configs/mics/pretrain_kvasir_demo.py',
            'vit-tiny':
            'configs/mics/mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        'simclr': {
            'resnet18':
            'configs/baselines/simclr_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        'mocov3': {
            'resnet18':
            'configs/baselines/mocov3_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        'byol': {
            'resnet18':
            'configs/baselines/byol_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        # the WLI image alone, as two augmented views (2 images per sample)
        **{
            f'{m}-wli': {
                'resnet18':
                f'configs/baselines/{m}_resnet18_1xb32-coslr-10e_kvasir-demo-wli-64px.py'
            }
            for m in ('simclr', 'mocov3', 'byol')
        },
        # both modalities, each image a sample of its own (64 images per
        # batch of 32 pairs, as the two-view methods)
        'mae': {
            'vit-tiny':
            'configs/baselines/mae_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        # the WLI image only: half the images per iteration, by design
        'mae-wli': {
            'vit-tiny':
            'configs/baselines/mae_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-wli-64px.py'
        },
        'scratch': {
            'resnet18': None,
            'vit-tiny': None
        },
    },
    finetune={
        ('resnet18', 'finetune'):
        'configs/mics/benchmarks/resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py',
        ('resnet18', 'linear'):
        'configs/mics/benchmarks/resnet18_mics-pre_1xb8-linear-coslr-30e_kvasir-demo-10pct-64px.py',
        ('vit-tiny', 'finetune'):
        'configs/mics/benchmarks/vit-tiny-p8_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py',
        ('vit-tiny', 'linear'):
        'configs/mics/benchmarks/vit-tiny-p8_mics-pre_1xb8-linear-coslr-30e_kvasir-demo-10pct-64px.py',
    },
    # images a method looks at per sample (views / modalities)
    images_per_sample=dict(mics=2, simclr=2, mocov3=2, byol=2, mae=2,
                           **{'mae-wli': 1, 'simclr-wli': 2,
                              'mocov3-wli': 2, 'byol-wli': 2}),
    # methods that see one modality by design (exempt from equal images)
    single_modality=('mae-wli', ),
    metrics=('accuracy', 'f1_macro', 'auc_macro'),
    ours='mics')

BRAIN = dict(
    default_data='data/brain_demo',
    pretrain={
        'brainmvp': {
            'resnet18': 'configs/brainmvp/pretrain_brain_demo.py',
            'vit-tiny':
            'configs/brainmvp/brainmvp_vit-tiny-p8_1xb16-coslr-20e_brain-demo-2d-96px.py'
        },
        'mae': {
            'vit-tiny':
            'configs/baselines/mae_vit-tiny-p8_1xb16-coslr-20e_brain-demo-2d-96px.py'
        },
        'scratch': {
            'resnet18': None,
            'vit-tiny': None
        },
    },
    finetune={
        ('resnet18', 'finetune'):
        'configs/brainmvp/benchmarks/upernet_resnet18_1xb8-300it_brain-demo-96px.py',
        ('vit-tiny', 'finetune'):
        'configs/brainmvp/benchmarks/upernet_vit-tiny-p8_1xb8-300it_brain-demo-96px.py',
    },
    # both read one slice stack of the sampled modalities per sample
    # (BrainMVP encodes it twice: compute, not data; see pretrain_speed.py)
    images_per_sample=dict(brainmvp=1, mae=1),
    single_modality=(),
    metrics=('mDice', ),
    ours='brainmvp')

TASKS = {'kvasir': KVASIR, 'brain-seg': BRAIN}

QUICK = {
    'kvasir':
    dict(
        methods=['mics', 'simclr', 'mocov3', 'byol', 'mae', 'scratch'],
        backbones=['resnet18', 'vit-tiny'],
        fractions=[0.1, 1.0],
        seeds=[0, 1],
        protocols=['finetune', 'linear'],
        pretrain_epochs=10,
        pretrain_batch=32,
        finetune_iters=100,
        finetune_batch=8),
    'brain-seg':
    dict(
        methods=['brainmvp', 'mae', 'scratch'],
        backbones=['resnet18', 'vit-tiny'],
        fractions=[0.34, 1.0],
        seeds=[0],
        protocols=['finetune'],
        pretrain_epochs=10,
        pretrain_batch=16,
        finetune_iters=150,
        finetune_batch=8),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='kvasir')
    parser.add_argument('--data', help='dataset folder (default: the demo '
                        'data of the task, made if missing)')
    parser.add_argument('--methods', nargs='+')
    parser.add_argument('--backbones', nargs='+')
    parser.add_argument('--fractions', nargs='+', type=float)
    parser.add_argument('--seeds', nargs='+', type=int)
    parser.add_argument('--protocols', nargs='+',
                        choices=['finetune', 'linear'])
    parser.add_argument('--pretrain-epochs', type=int)
    parser.add_argument('--pretrain-batch', type=int)
    parser.add_argument('--finetune-iters', type=int)
    parser.add_argument('--finetune-batch', type=int)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument(
        '--quick',
        action='store_true',
        help='the documented small setting on the demo data (each value '
        'can still be overridden)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='reuse the jobs a previous (interrupted) run under --out '
        'finished with the same settings (each job.json) and run the '
        'rest')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='run every job again even if --out holds a previous run '
        '(its checkpoints are replaced)')
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error('--resume and --overwrite exclude each other')
    defaults = QUICK[args.task]
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    unknown = set(args.methods) - set(TASKS[args.task]['pretrain'])
    if unknown:
        parser.error(f'unknown methods {sorted(unknown)} for --task '
                     f'{args.task}; known: {sorted(TASKS[args.task]["pretrain"])}')
    if args.task == 'brain-seg' and 'linear' in args.protocols:
        parser.error('--task brain-seg has the finetune protocol only')
    if not all(0 < f <= 1 for f in args.fractions):
        parser.error('fractions must be in (0, 1]')
    return args


# --------------------------------------------------------------------------
# Plans: which (method, backbone) pairs run, and under which budget.
# --------------------------------------------------------------------------
def plan(args) -> List[dict]:
    """The (method, backbone) pairs to run, with their pre-training config.

    A method without a config for a backbone is skipped for it (and listed
    in ``results.json`` as skipped, with the reason).
    """
    task = TASKS[args.task]
    pairs = []
    for backbone in args.backbones:
        for method in args.methods:
            configs = task['pretrain'][method]
            if backbone not in configs:
                pairs.append(
                    dict(method=method, backbone=backbone, skipped=(
                        f'{method} has no {backbone} config (it runs on '
                        f'{sorted(configs)})')))
                continue
            pairs.append(
                dict(method=method, backbone=backbone,
                     config=configs[backbone]))
    return pairs


def check_equal_budgets(pretrained: Dict[str, dict],
                        exempt_images: Sequence[str] = ()) -> dict:
    """Raise unless every pre-training ran the same iterations and batch
    size (samples), and looked at the same number of images.

    Args:
        pretrained (dict): ``name -> dict(iters, batch_size,
            images_per_sample)``; ``name`` is ``<method>_<backbone>``.
        exempt_images (Sequence[str]): Methods that see fewer images by
            design (one modality of the pair: ``mae-wli``); they must still
            match iterations and batch size.

    Returns:
        dict: The common ``iters``, ``batch_size``, ``samples_seen`` and
        ``images_seen`` (per pre-training).
    """
    budgets = {(p['iters'], p['batch_size'])
               for p in pretrained.values()}
    if len(budgets) > 1:
        detail = ', '.join(f'{k}: {v["iters"]} iterations x {v["batch_size"]}'
                           for k, v in pretrained.items())
        raise RuntimeError(
            f'label_efficiency: unequal pre-training budgets ({detail}); '
            'every method must run the same iterations and batch size.')
    if not budgets:
        return {}
    iters, batch = budgets.pop()
    images = {
        name: iters * batch * p.get('images_per_sample', 1)
        for name, p in pretrained.items()
    }
    counted = {
        n: v
        for n, v in images.items()
        if n.rsplit('_', 1)[0] not in exempt_images
    }
    if len(set(counted.values())) > 1:
        raise RuntimeError(
            f'label_efficiency: unequal images seen in pre-training '
            f'({counted}); give every method the same images per sample '
            '(e.g. both modalities), or name single-modality variants as '
            'such (mae-wli).')
    return dict(iters=iters, batch_size=batch, samples_seen=iters * batch,
                images_seen=images)


# --------------------------------------------------------------------------
# Running one job in this process.
# --------------------------------------------------------------------------
def _set_loader(cfg, loader: str, data: str, workers: int,
                batch: Optional[int] = None) -> None:
    loader_cfg = cfg.get(loader)
    if loader_cfg is None:
        return
    ds = loader_cfg.dataset
    inner = ds.dataset if ds.get('type') == 'RepeatDataset' else ds
    if inner.get('type') == 'SemiSupervisedDataset':
        raise ValueError('label_efficiency: semi-supervised configs are not '
                         'supported here')
    inner.data_root = data
    loader_cfg.num_workers = workers
    loader_cfg.persistent_workers = False  # one pass per loader and run
    if batch is not None:
        loader_cfg.batch_size = batch


def _iter_schedule(iters: int) -> list:
    warm = max(1, iters // 10)
    return [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=warm),
        dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False,
             begin=warm, end=iters),
    ]


def _epoch_schedule(cfg, epochs: int) -> None:
    """Stretch / cut the config's epoch schedule to ``epochs``."""
    for sched in cfg.param_scheduler:
        if sched.get('end', 0) > epochs or sched.get('type') in (
                'CosineAnnealingLR', 'PolyLR'):
            sched['end'] = epochs
        if sched.get('begin', 0) >= epochs:
            sched['begin'] = max(0, epochs - 1)
        sched.pop('T_max', None)


def run_job(cfg, work_dir: str, train: bool = True) -> dict:
    """Build a Runner from ``cfg`` in this process; train and / or test.

    Returns:
        dict: ``metrics`` (test, if a test loop is configured),
        ``iters`` (training iterations run) and ``seconds``; ``metrics``
        holds the numeric test metrics.
    """
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir) + '_' + str(time.time_ns())
    start = time.time()
    runner = Runner.from_cfg(cfg)
    out = dict(iters=0, metrics=None)
    if train:
        runner.train()
        out['iters'] = runner.iter
    if cfg.get('test_dataloader') is not None and \
            cfg.get('test_cfg') is not None:
        # numbers only (a confusion matrix etc. is not part of the table)
        out['metrics'] = {
            k: float(v)
            for k, v in (runner.test() or {}).items()
            if isinstance(v, (int, float))
        }
    _stop_train_workers(runner)
    out['seconds'] = round(time.time() - start, 1)
    del runner
    gc.collect()
    return out


class Jobs:
    """Runs the benchmark's jobs, each in its own work dir, and records
    each finished one in ``<work_dir>/job.json`` with the settings it ran
    with (``key``). With ``resume``, a job whose record has the same key is
    not run again; a record with other settings is an error (the folder
    belongs to another benchmark). Without ``resume`` or ``overwrite``, an
    output folder that already holds finished jobs is refused, so a second
    run never replaces the first one's checkpoints by accident."""
    RECORD = 'job.json'

    def __init__(self, out: str, resume: bool = False,
                 overwrite: bool = False):
        self.out, self.resume = out, resume
        self.reused: List[str] = []
        if not (resume or overwrite):
            done = self.finished()
            if done:
                raise FileExistsError(
                    f'label_efficiency: {out} already holds {len(done)} '
                    f'finished jobs (e.g. {done[0]}); pass --resume to '
                    'reuse them and run the rest, --overwrite to run them '
                    'again, or choose another --out.')

    def finished(self) -> List[str]:
        found = []
        for stage in ('pretrain', 'finetune'):
            folder = osp.join(self.out, stage)
            if osp.isdir(folder):
                found += sorted(
                    osp.join(folder, d) for d in os.listdir(folder)
                    if osp.isfile(osp.join(folder, d, self.RECORD)))
        return found

    def run(self, cfg, work_dir: str, key: dict) -> dict:
        record = osp.join(work_dir, self.RECORD)
        if self.resume and osp.isfile(record):
            with open(record) as f:
                saved = json.load(f)
            if saved.get('key') != key:
                raise RuntimeError(
                    f'label_efficiency --resume: {record} was run with '
                    f'other settings ({saved.get("key")} != {key}); use '
                    'another --out, or --overwrite.')
            self.reused.append(work_dir)
            print(f'[label_efficiency] reusing {work_dir}', flush=True)
            return saved['result']
        result = run_job(cfg, work_dir)
        tmp = record + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(key=key, result=result), f, indent=1)
        os.replace(tmp, record)
        return result


def _stop_train_workers(runner) -> None:
    """Terminate the data-loader workers of an iteration-based training
    loop. Its infinite iterator is never exhausted, and releasing it waited
    about 5 s per worker (measured: 10 s of every fine-tuning run with 2
    workers), longer than a short run itself."""
    loop = getattr(runner, '_train_loop', None)
    infinite = getattr(loop, 'dataloader_iterator', None)
    iterator = getattr(infinite, '_iterator', None)
    for worker in getattr(iterator, '_workers', []):
        if worker.is_alive():
            worker.terminate()


def load_cfg(path: str):
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, path))


def pretrain_cfg(args, path: str, data: str):
    cfg = load_cfg(path)
    _set_loader(cfg, 'train_dataloader', data, args.workers,
                args.pretrain_batch)
    if args.task == 'kvasir':
        cfg.train_dataloader.dataset.ann_file = 'splits/train.json'
    if cfg.train_cfg.get('type') != 'EpochBasedTrainLoop':
        raise ValueError(f'{path}: pre-training configs must be epoch-based')
    cfg.train_cfg.max_epochs = args.pretrain_epochs
    _epoch_schedule(cfg, args.pretrain_epochs)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=args.pretrain_epochs,
        max_keep_ckpts=1)
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'BrainMVPScheduleHook':
            hook['cl_start'] = max(1, (2 * args.pretrain_epochs) // 3)
    cfg.randomness = dict(seed=0, deterministic=False)
    return cfg


def finetune_cfg(args, backbone: str, protocol: str, data: str,
                 checkpoint: Optional[str], fraction: float, seed: int,
                 train_ann: Optional[str] = None):
    task = TASKS[args.task]
    cfg = load_cfg(task['finetune'][(backbone, protocol)])
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _set_loader(cfg, loader, data, args.workers,
                    args.finetune_batch if loader == 'train_dataloader'
                    else None)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    iters = args.finetune_iters
    if args.task == 'kvasir':
        from mics_mm.datasets.splits import fraction_tag
        cfg.train_dataloader.dataset.ann_file = (
            f'splits/train_labeled_{fraction_tag(100 * fraction)}pct.json')
        cfg.train_dataloader.sampler = dict(
            type='InfiniteSampler', shuffle=True)
        cfg.model.pretrained = checkpoint
        cfg.custom_hooks = [
            h for h in cfg.get('custom_hooks', [])
            if h.get('type') != 'RandomStateHook'
        ]
    else:
        cfg.train_dataloader.dataset.ann_file = train_ann
        if checkpoint:
            cfg.model.backbone.init_cfg = dict(
                type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
        else:
            cfg.model.backbone.init_cfg = None
        templates = checkpoint if checkpoint and _has_templates(
            checkpoint) else None
        cfg.model.data_preprocessor.templates = templates
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.param_scheduler = _iter_schedule(iters)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=-1, save_last=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=max(1, iters // 5),
        log_metric_by_epoch=False)
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def _has_templates(checkpoint: str) -> bool:
    import torch
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    return 'templates.templates' in state.get('state_dict', state)


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def prepare_data(args) -> str:
    data = args.data or TASKS[args.task]['default_data']
    data = data if osp.isabs(data) else osp.join(ROOT, data)
    if args.task == 'kvasir':
        from mics_mm.datasets.splits import make_splits
        if not osp.isdir(data):
            if args.data:
                raise FileNotFoundError(f'--data {data} does not exist')
            from mics_mm.testing.kvasir_demo import make_demo_kvasir
            make_demo_kvasir(data, per_class=40, size=64, seed=0)
        if not osp.isfile(osp.join(data, 'splits', 'train.json')):
            make_splits(data, seed=0)
    else:
        if not osp.isfile(osp.join(data, 'provenance.json')):
            if args.data:
                raise FileNotFoundError(
                    f'--data {data} is not a demo brain set (no '
                    'provenance.json); make one with '
                    'tools/data/make_brain_demo.py')
            from mics_mm.testing.brain_demo import make_brain_demo
            make_brain_demo(data)
    return data


def brain_fraction_manifest(data: str, fraction: float, out: str) -> str:
    """Labelled subjects for a fraction of the demo brain set's pool (the
    subjects that are neither validation nor test), T1 + label only."""
    prov = json.load(open(osp.join(data, 'provenance.json')))
    pool = [c for c in prov['splits']['pretrain'] if c != 'brainweb']
    n = max(1, math.ceil(fraction * len(pool) - 1e-9))
    items = [
        dict(case=c, images={'t1': f'{c}/{c}_t1.nii.gz'},
             label=f'{c}/{c}_seg.nii.gz') for c in pool[:n]
    ]
    # absolute: the dataset resolves a relative ann_file against data_root
    path = osp.abspath(osp.join(out, f'seg_train_{fraction:g}.json'))
    with open(path, 'w') as f:
        json.dump(items, f, indent=1)
    return path


# --------------------------------------------------------------------------
# Summary, table, plot
# --------------------------------------------------------------------------
def summarise(runs: List[dict], metrics: Sequence[str]) -> List[dict]:
    groups: Dict[tuple, List[dict]] = {}
    for r in runs:
        key = (r['method'], r['backbone'], r['protocol'], r['fraction'])
        groups.setdefault(key, []).append(r)
    rows = []
    for (method, backbone, protocol, fraction), items in sorted(
            groups.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0],
                                            kv[0][3])):
        row = dict(method=method, backbone=backbone, protocol=protocol,
                   fraction=fraction, n=len(items))
        for m in metrics:
            values = [r['metrics'][m] for r in items
                      if r['metrics'].get(m) is not None]
            row[f'{m}_mean'] = statistics.mean(values) if values else None
            row[f'{m}_std'] = statistics.stdev(values) if len(
                values) > 1 else 0.0
        rows.append(row)
    return rows


def targets(rows: List[dict], ours: str, fraction: float = 0.1) -> dict:
    """Issue targets at ``fraction`` labels, per backbone and protocol:
    ours >= every baseline's mean accuracy, and >= scratch + 5 points."""
    out = {}
    key = 'accuracy_mean' if rows and 'accuracy_mean' in rows[0] else \
        'mDice_mean'
    cells = {(r['method'], r['backbone'], r['protocol']): r[key]
             for r in rows if abs(r['fraction'] - fraction) < 1e-9}
    for (method, backbone, protocol), value in cells.items():
        if method != ours:
            continue
        others = {m: v for (m, b, p), v in cells.items()
                  if b == backbone and p == protocol and m != ours}
        if not others:
            continue
        best = max(others, key=others.get)
        entry = dict(
            ours=value,
            best_baseline=best,
            best_baseline_value=others[best],
            margin_over_best=value - others[best],
            meets_best_baseline=value >= others[best])
        if 'scratch' in others:
            entry['margin_over_scratch'] = value - others['scratch']
            entry['meets_scratch_plus_5'] = (
                value >= others['scratch'] + 0.05)
        out[f'{backbone}/{protocol}'] = entry
    return out


def markdown(rows: List[dict], metrics: Sequence[str], budget: dict,
             meta: dict) -> str:
    lines = [
        f'# Label efficiency ({meta["task"]})', '',
        f'Command: `{meta["command"]}`  ', f'Machine: {meta["machine"]}  ',
        f'Pre-training budget (every method): {budget}  ',
        f'Fine-tuning: {meta["finetune_iters"]} iterations x batch '
        f'{meta["finetune_batch"]}; seeds {meta["seeds"]}; mean +- std.', ''
    ]
    fractions = sorted({r['fraction'] for r in rows})
    for protocol in sorted({r['protocol'] for r in rows}):
        for metric in metrics:
            lines += [
                f'## {protocol}: {metric}', '',
                '| method | backbone | ' + ' | '.join(
                    f'{100 * f:g} % labels' for f in fractions) + ' |',
                '| --- | --- |' + ' --- |' * len(fractions)
            ]
            keys = sorted({(r['backbone'], r['method']) for r in rows
                           if r['protocol'] == protocol})
            for backbone, method in keys:
                cells = []
                for f in fractions:
                    r = next((r for r in rows if r['protocol'] == protocol
                              and r['method'] == method and
                              r['backbone'] == backbone and
                              r['fraction'] == f), None)
                    if r is None or r[f'{metric}_mean'] is None:
                        cells.append('-')
                    else:
                        cells.append(f'{r[metric + "_mean"]:.3f} +- '
                                     f'{r[metric + "_std"]:.3f}')
                lines.append(f'| {method} | {backbone} | ' +
                             ' | '.join(cells) + ' |')
            lines.append('')
    return '\n'.join(lines)


def plot(rows: List[dict], metrics: Sequence[str], path: str,
         title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = sorted({(r['protocol'], r['backbone']) for r in rows})
    # one colour per method in every panel
    methods = sorted({r['method'] for r in rows})
    palette = plt.get_cmap('tab10')
    colours = {m: palette(i % 10) for i, m in enumerate(methods)}
    fig, axes = plt.subplots(
        len(metrics), len(panels), figsize=(4.2 * len(panels),
                                            3.4 * len(metrics)),
        squeeze=False)
    for col, (protocol, backbone) in enumerate(panels):
        for row_i, metric in enumerate(metrics):
            ax = axes[row_i][col]
            for method in methods:
                pts = sorted((r['fraction'], r[f'{metric}_mean'],
                              r[f'{metric}_std']) for r in rows
                             if r['method'] == method and r['protocol'] ==
                             protocol and r['backbone'] == backbone and
                             r[f'{metric}_mean'] is not None)
                if not pts:
                    continue
                xs, ys, es = zip(*pts)
                ax.errorbar([100 * x for x in xs], ys, yerr=es, marker='o',
                            capsize=3, label=method, color=colours[method])
            ax.set_xscale('log')
            ax.set_xlabel('labelled fraction (%)')
            ax.set_ylabel(metric)
            ax.set_title(f'{protocol}, {backbone}')
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------
def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch

    import mics_mm  # noqa: F401
    if args.task == 'brain-seg':
        import mics_mm.seg  # noqa: F401
    os.makedirs(args.out, exist_ok=True)
    task = TASKS[args.task]
    data = prepare_data(args)
    start = time.time()
    meta = dict(
        task=args.task,
        data=data,
        command='python tools/benchmark/label_efficiency.py ' +
        ' '.join(argv if argv is not None else sys.argv[1:]),
        machine=f'{platform.machine()}, {os.cpu_count()} cores, '
        f'{"GPU" if torch.cuda.is_available() else "no GPU"}, torch '
        f'{torch.__version__}',
        seeds=args.seeds,
        fractions=args.fractions,
        protocols=args.protocols,
        finetune_iters=args.finetune_iters,
        finetune_batch=args.finetune_batch,
        pretrain_epochs=args.pretrain_epochs,
        pretrain_batch=args.pretrain_batch)

    pairs = plan(args)
    jobs = Jobs(args.out, args.resume, args.overwrite)
    pretrained: Dict[str, dict] = {}
    for pair in pairs:
        if 'skipped' in pair or pair['config'] is None:
            continue
        name = f'{pair["method"]}_{pair["backbone"]}'
        print(f'[label_efficiency] pre-training {name}', flush=True)
        cfg = pretrain_cfg(args, pair['config'], data)
        work = osp.join(args.out, 'pretrain', name)
        ckpt = osp.join(work, f'epoch_{args.pretrain_epochs}.pth')
        result = jobs.run(
            cfg, work,
            dict(config=pair['config'], data=data,
                 epochs=args.pretrain_epochs, batch=args.pretrain_batch))
        if not osp.isfile(ckpt):
            raise FileNotFoundError(
                f'label_efficiency: {name} finished without {ckpt}')
        pretrained[name] = dict(
            config=pair['config'],
            checkpoint=ckpt,
            iters=result['iters'],
            batch_size=cfg.train_dataloader.batch_size,
            epochs=args.pretrain_epochs,
            images_per_sample=task['images_per_sample'][pair['method']],
            seconds=result['seconds'])
    budget = check_equal_budgets(pretrained, task['single_modality'])

    runs = []
    for pair in pairs:
        if 'skipped' in pair:
            continue
        method, backbone = pair['method'], pair['backbone']
        name = f'{method}_{backbone}'
        ckpt = pretrained[name]['checkpoint'] if name in pretrained else None
        for protocol in args.protocols:
            if (backbone, protocol) not in task['finetune']:
                continue
            for fraction in args.fractions:
                train_ann = None
                if args.task == 'brain-seg':
                    train_ann = brain_fraction_manifest(
                        data, fraction, args.out)
                for seed in args.seeds:
                    tag = f'{name}_{protocol}_{fraction:g}_s{seed}'
                    print(f'[label_efficiency] fine-tuning {tag}',
                          flush=True)
                    cfg = finetune_cfg(args, backbone, protocol, data, ckpt,
                                       fraction, seed, train_ann)
                    result = jobs.run(
                        cfg, osp.join(args.out, 'finetune', tag),
                        dict(config=task['finetune'][(backbone, protocol)],
                             data=data, checkpoint=ckpt, fraction=fraction,
                             seed=seed, iters=args.finetune_iters,
                             batch=args.finetune_batch))
                    metrics = result['metrics'] or {}
                    runs.append(
                        dict(method=method, backbone=backbone,
                             protocol=protocol, fraction=fraction,
                             seed=seed, iters=result['iters'],
                             seconds=result['seconds'], metrics=metrics))
    ft_iters = {r['iters'] for r in runs}
    if len(ft_iters) > 1:
        raise RuntimeError(f'label_efficiency: unequal fine-tuning budgets '
                           f'{sorted(ft_iters)}')
    rows = summarise(runs, task['metrics'])
    result = dict(
        meta=meta,
        budget=budget,
        pretrain=pretrained,
        skipped=[p for p in pairs if 'skipped' in p],
        reused_jobs=jobs.reused,
        runs=runs,
        # the jobs' own run times (reused jobs count with their original
        # time): what the benchmark costs from scratch on this machine
        job_seconds=round(
            sum(p['seconds'] for p in pretrained.values()) +
            sum(r['seconds'] for r in runs), 1),
        summary=rows,
        targets=targets(rows, task['ours']),
        seconds=round(time.time() - start, 1))
    with open(osp.join(args.out, 'results.json'), 'w') as f:
        json.dump(result, f, indent=1)
    with open(osp.join(args.out, 'results.md'), 'w') as f:
        f.write(markdown(rows, task['metrics'], budget, meta))
        f.write(f'Wall time of this invocation: {result["seconds"]:.0f} s; '
                f'the jobs\' own run time: {result["job_seconds"]:.0f} s '
                f'({len(jobs.reused)} of {len(pretrained) + len(runs)} jobs '
                'reused from an earlier invocation with --resume).\n')
    plot(rows, task['metrics'], osp.join(args.out, 'results.png'),
         f'label efficiency, {args.task} ({osp.relpath(data, ROOT)})')
    print(open(osp.join(args.out, 'results.md')).read())
    print(json.dumps(result['targets'], indent=1))
    print(f'[label_efficiency] done in {result["seconds"]:.0f} s: '
          f'{osp.join(args.out, "results.json")}')
    return result


if __name__ == '__main__':
    main()
