"""The learning check on real images: MICS against mmpretrain's SimCLR,
BYOL and MoCo v3 and random init on Fashion-MNIST
(``tools/benchmark/fashion_mnist_check.py`` is its command line).

Every method pre-trains the same half-width ResNet-18 on the same pairs
(each image with its gradient magnitude, ``GradientMagnitude``) for the
same iterations at the same batch and learning-rate schedule (its config
under ``configs/mics`` / ``configs/baselines``; the check refuses unequal
budgets). Each encoder, and a randomly initialised one per seed, is then
scored three ways on the 10,000 test images:

- **kNN**: weighted k-nearest neighbours (k = 20, cosine, temperature
  0.07; :mod:`mics_mm.evaluation.knn`) with the first 10,000 training
  images as the memory bank (``bank_size``);
- **linear probe**: logistic regression on the frozen features of the
  same training images (:mod:`mics_mm.evaluation.linear_probe`);
- **fine-tuning at 1 % labels**: the MICS multimodal classifier with the
  default fine-tuning recipe on a class-balanced 1 % (600 images, drawn
  per seed), initialised from the encoder (random init: from scratch).

Features are those of the encoder exported by
:func:`mics_mm.apis.export.extract_backbone` and loaded with
``strict=True`` into mmpretrain's ``ResNet`` of the same architecture,
on the image modality, resized to the configs' 32 px as their test
pipeline does (:func:`eval_arrays`), normalised with the data set's mean
and std, last stage average-pooled.
"""
import json
import os
import os.path as osp
import platform
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.config import Config

from ..datasets.fashion_mnist import FASHION_MNIST_ROOT, read_idx
from ..datasets.transforms.gradient import gradient_magnitude
from .jobs import Jobs

__all__ = [
    'PRETRAIN', 'FINETUNE', 'data_available', 'load_split', 'eval_arrays',
    'set_iters', 'encoder_from_checkpoint', 'encoder_features',
    'finetune_accuracy', 'run_check', 'summarise_check', 'check_markdown'
]

#: Pre-training config of each method (None: random init, no training).
PRETRAIN: Dict[str, Optional[str]] = {
    'mics':
    'configs/mics/mics_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py',
    'simclr': 'configs/baselines/'
    'simclr_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py',
    'byol': 'configs/baselines/'
    'byol_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py',
    'mocov3': 'configs/baselines/'
    'mocov3_resnet18-w32_1xb128-coslr-100it_fashion-mnist-32px.py',
    'random': None,
}
#: Fine-tuning config (1 % of the labels) shared by every method.
FINETUNE = ('configs/mics/benchmarks/'
            'resnet18-w32_mics-pre_1xb32-coslr-200it_fashion-mnist-1pct-32px.py')
#: The evaluation protocols, in table order.
PROTOCOLS = ('knn', 'linear', 'finetune_1pct')

_FILES = dict(train='train-images-idx3-ubyte', test='t10k-images-idx3-ubyte')
_LABELS = dict(train='train-labels-idx1-ubyte', test='t10k-labels-idx1-ubyte')


def data_available(root: str = FASHION_MNIST_ROOT) -> bool:
    """Whether ``root`` holds the four idx files (gzipped or not)."""
    names = list(_FILES.values()) + list(_LABELS.values())
    return all(
        osp.isfile(osp.join(root, n)) or osp.isfile(osp.join(root, n + '.gz'))
        for n in names)


def load_split(root: str, split: str, num: Optional[int] = None):
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` of a split (the
    first ``num`` when given)."""
    images = read_idx(osp.join(root, _FILES[split]))
    labels = read_idx(osp.join(root, _LABELS[split])).astype(np.int64)
    if num is not None:
        images, labels = images[:num], labels[:num]
    return images, labels


def eval_arrays(images: np.ndarray, img_size: int = 32
                ) -> Dict[str, torch.Tensor]:
    """The fine-tuning configs' test pipeline on every image, as tensors.

    ``GradientMagnitude`` on the 28 px image, then each modality resized
    to ``img_size`` (bilinear, ``cv2.INTER_LINEAR`` as mmcv's ``Resize``),
    as ``fashion_mnist_finetune-32px.py``'s ``test_pipeline`` does
    (tests/test_benchmark/test_fashion_mnist_check.py compares them).

    Returns:
        dict[str, Tensor]: ``image`` and ``gradient``, ``(N, 3, S, S)``
        uint8.
    """
    out = {'image': [], 'gradient': []}
    size = (img_size, img_size)
    for grey in images:
        rgb = np.repeat(grey[..., None], 3, 2)
        for name, img in (('image', rgb), ('gradient',
                                           gradient_magnitude(rgb))):
            out[name].append(
                cv2.resize(img, size, interpolation=cv2.INTER_LINEAR))
    return {
        k: torch.from_numpy(np.stack(v)).permute(0, 3, 1, 2).contiguous()
        for k, v in out.items()
    }


def _scale_scheduler(entries, old: int, new: int, old_warm: int,
                     new_warm: int) -> None:
    for entry in entries:
        for key in ('begin', 'end'):
            if entry.get(key) == old:
                entry[key] = new
            elif entry.get(key) == old_warm and old_warm:
                entry[key] = new_warm


def set_iters(cfg: Config, iters: int) -> Config:
    """Shorten (or lengthen) an iteration-based config to ``iters``, in
    place: the loop, the lr schedule (a warm-up scaled in proportion, at
    least one iteration), the alpha warm-up, PreciseBN and the checkpoint
    interval. For the quick settings and tests; the check's figures use the
    configs' own budgets.

    Returns:
        Config: ``cfg``.
    """
    old = int(cfg.train_cfg.max_iters)
    sched = cfg.param_scheduler
    lists = list(sched.values()) if isinstance(sched, dict) else [sched]
    warm = [e.get('end') for lst in lists for e in lst
            if e.get('type') == 'LinearLR']
    old_warm = int(warm[0]) if warm else 0
    new_warm = max(1, round(old_warm * iters / old)) if old_warm else 0
    for lst in lists:
        _scale_scheduler(lst, old, iters, old_warm, new_warm)
    cfg.train_cfg.max_iters = iters
    if cfg.train_cfg.get('val_interval'):
        cfg.train_cfg.val_interval = iters
    for hook in cfg.get('custom_hooks', []):
        if hook.get('type') == 'MICSAlphaWarmupHook' and \
                hook.get('warmup_iters'):
            hook['warmup_iters'] = new_warm
        if hook.get('type') == 'PreciseBNHook':
            hook['interval'] = iters
    cfg.default_hooks.checkpoint.interval = iters
    return cfg


def _backbone_cfg(finetune_cfg: Config) -> dict:
    """The encoder every method trains, as mmpretrain's plain ``ResNet``
    (the fine-tuning config's backbone)."""
    backbone = dict(finetune_cfg.model.backbone)
    backbone['type'] = 'ResNet'
    return backbone


def encoder_from_checkpoint(root: str, checkpoint: Optional[str],
                            seed: int,
                            finetune_cfg: Optional[Config] = None
                            ) -> torch.nn.Module:
    """mmpretrain ``ResNet`` with the encoder of ``checkpoint`` loaded with
    ``strict=True`` (via :func:`~mics_mm.apis.export.extract_backbone`), or
    randomly initialised from ``seed`` when ``checkpoint`` is None; in
    eval mode. ``finetune_cfg``: the loaded :data:`FINETUNE` config (read
    from ``root`` when None)."""
    from mmpretrain.registry import MODELS

    from ..apis.export import extract_backbone
    torch.manual_seed(seed)
    if finetune_cfg is None:
        finetune_cfg = Config.fromfile(osp.join(root, FINETUNE))
    encoder = MODELS.build(_backbone_cfg(finetune_cfg))
    if checkpoint is None:
        encoder.init_weights()
    else:
        weights, _ = extract_backbone(checkpoint)
        encoder.load_state_dict(weights, strict=True)
    encoder.eval()  # mmpretrain's ResNet.train() returns None
    return encoder


def _norm(cfg: Config):
    pre = cfg.model.get('data_preprocessor') or cfg.data_preprocessor
    mean = torch.tensor(pre['mean'], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(pre['std'], dtype=torch.float32).view(1, -1, 1, 1)
    return mean, std


@torch.no_grad()
def encoder_features(encoder: torch.nn.Module, images: torch.Tensor,
                     mean: torch.Tensor, std: torch.Tensor,
                     batch: int = 1000) -> torch.Tensor:
    """``(N, C)`` average-pooled last-stage features of uint8 images."""
    from ..models.utils import global_feature
    feats = []
    for i in range(0, len(images), batch):
        x = (images[i:i + batch].float() - mean) / std
        feats.append(global_feature(encoder(x)[-1]).float())
    return torch.cat(feats)


@torch.no_grad()
def finetune_accuracy(cfg: Config, checkpoint: str,
                      arrays: Dict[str, torch.Tensor], labels: np.ndarray,
                      batch: int = 500) -> float:
    """Test accuracy of a fine-tuned ``MICSMultiModalClassifier``
    checkpoint on the cached test arrays (:func:`eval_arrays`): each batch
    goes through ``model.test_step`` as a test loader's batch would."""
    from mmengine.registry import DefaultScope
    from mmpretrain.structures import DataSample

    from ..registry import MODELS
    from ..utils.checkpoint_io import read_checkpoint
    with DefaultScope.overwrite_default_scope('mics_mm'):
        model_cfg = dict(cfg.model, pretrained=None)
        # the config's top-level preprocessor, as the Runner gives it
        if cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        model = MODELS.build(model_cfg)
    state = read_checkpoint(checkpoint)['state_dict']
    model.load_state_dict(state, strict=True)
    model.eval()
    right = 0
    for i in range(0, len(labels), batch):
        inputs = {k: v[i:i + batch] for k, v in arrays.items()}
        samples = [DataSample() for _ in range(len(inputs['image']))]
        out = model.test_step(dict(inputs=inputs, data_samples=samples))
        pred = np.array([int(s.pred_label.item()) for s in out])
        right += int((pred == labels[i:i + batch]).sum())
    return right / len(labels)


def _last_checkpoint(work_dir: str, iters: int) -> str:
    path = osp.join(work_dir, f'iter_{iters}.pth')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'fashion_mnist_check: {path} was not written by the job in '
            f'{work_dir}; see its log.')
    return path


def _pretrain_cfg(root: str, method: str, seed: int, data: str,
                  iters: Optional[int], num_train: Optional[int],
                  options: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(osp.join(root, PRETRAIN[method]))
    if options:
        cfg.merge_from_dict(options)
    cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    cfg.train_dataloader.dataset.data_root = data
    if num_train:
        cfg.train_dataloader.dataset.num_samples = num_train
    if iters:
        set_iters(cfg, iters)
    return cfg


def _finetune_cfg(root: str, checkpoint: Optional[str], seed: int, data: str,
                  iters: Optional[int], config: str = FINETUNE) -> Config:
    cfg = Config.fromfile(osp.join(root, config))
    cfg.model.pretrained = checkpoint
    cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    cfg.train_dataloader.dataset.data_root = data
    cfg.train_dataloader.dataset.subset_seed = seed
    # tested on the cached arrays (finetune_accuracy), not by the runner
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint.save_best = None
    if iters:
        set_iters(cfg, iters)
    return cfg


def _finetune(root: str, out: str, jobs: Jobs, method: str,
              ckpt: Optional[str], seed: int, data: str,
              iters: Optional[int], config: str,
              test_arrays: Dict[str, torch.Tensor],
              test_y: np.ndarray) -> dict:
    """Fine-tune one encoder at 1 % labels (a job under
    ``<out>/finetune[-<config>]/``) and test it on the cached arrays."""
    cfg = _finetune_cfg(root, ckpt, seed, data, iters, config)
    stage = 'finetune' if config == FINETUNE else \
        'finetune-' + osp.splitext(osp.basename(config))[0]
    work = osp.join(out, stage, f'{method}_seed{seed}')
    res = jobs.run(cfg, work, dict(
        config=config, pretrained=ckpt, seed=seed, data=data, iters=iters))
    return dict(
        finetune_seconds=res['seconds'],
        finetune_1pct=finetune_accuracy(
            cfg, _last_checkpoint(work, int(cfg.train_cfg.max_iters)),
            test_arrays, test_y))


def run_check(root: str,
              out: str,
              data: str = FASHION_MNIST_ROOT,
              methods: Sequence[str] = tuple(PRETRAIN),
              seeds: Sequence[int] = (0, 1, 2),
              pretrain_iters: Optional[int] = None,
              finetune_iters: Optional[int] = None,
              num_train: Optional[int] = None,
              num_test: Optional[int] = None,
              bank_size: Optional[int] = 10000,
              knn_k: int = 20,
              finetune_config: str = FINETUNE,
              pretrain_options: Optional[dict] = None,
              finetune: bool = True,
              resume: bool = False,
              overwrite: bool = False,
              command: str = '') -> dict:
    """Pre-train, score and fine-tune every method at every seed.

    Args:
        root (str): Repository root (configs are relative to it).
        out (str): Output folder (``pretrain/``, ``finetune/``,
            ``eval/`` and ``results.json``).
        data (str): Folder of the idx files.
        methods (Sequence[str]): Keys of :data:`PRETRAIN`.
        seeds (Sequence[int]): Seeds (pre-training, random init, labelled
            subset and fine-tuning).
        pretrain_iters (int, optional): Override the configs' iterations
            (quick runs and tests). None: the configs' budgets.
        finetune_iters (int, optional): Likewise for fine-tuning.
        num_train (int, optional): Use the first ``num_train`` training
            images only (pre-training, bank and probe; tests). None: all.
        num_test (int, optional): Likewise for the test images.
        bank_size (int, optional): The first ``bank_size`` training images
            are the kNN memory bank and the linear probe's training set
            (Fashion-MNIST's training order is shuffled, its classes
            balanced to within 1 % there). Defaults to 10,000 (a fifth of
            the feature extraction of all 60,000, which would cost more
            than the pre-training on 2 cores); None: all.
        knn_k (int): Neighbours. Defaults to 20.
        finetune_config (str): Fine-tuning config (relative to ``root``).
            Another than :data:`FINETUNE` runs under
            ``<out>/finetune-<its name>/``, so that with ``resume`` the
            pre-training and the kNN / linear scores of an earlier run are
            reused and only the fine-tuning differs. Defaults to
            :data:`FINETUNE`.
        pretrain_options (dict, optional): ``--cfg-options``-style
            overrides of every pre-training config (ablations, e.g. of
            MICS' loss weights with ``methods=['mics']``). Defaults to None.
        finetune (bool): Fine-tune too; False scores kNN and the linear
            probe only (ablations of the pre-training). Defaults to True.
        resume (bool): Reuse finished jobs under ``out``.
        overwrite (bool): Run every job again.
        command (str): The command line, recorded.

    Returns:
        dict: What ``results.json`` holds (runs, summary, budgets,
        verdict, machine, seconds).
    """
    from ..evaluation import knn_accuracy, linear_probe_accuracy
    for m in methods:
        if m not in PRETRAIN:
            raise ValueError(f'fashion_mnist_check: unknown method {m!r}; '
                             f'known: {sorted(PRETRAIN)}.')
    start = time.time()
    n_pre = sum(PRETRAIN[m] is not None for m in methods) * len(seeds)
    jobs = Jobs(out, resume=resume, overwrite=overwrite,
                total=n_pre + len(methods) * len(seeds) * finetune,
                name='fashion_mnist_check')
    train_x, train_y = load_split(data, 'train', num_train)
    test_x, test_y = load_split(data, 'test', num_test)
    if bank_size:
        train_x, train_y = train_x[:bank_size], train_y[:bank_size]
    train_arr = eval_arrays(train_x)['image']
    test_arrays = eval_arrays(test_x)
    ft_cfg = Config.fromfile(osp.join(root, FINETUNE))
    mean, std = _norm(ft_cfg)
    runs: List[dict] = []
    budgets: Dict[str, dict] = {}
    for seed in seeds:
        for method in methods:
            run = dict(method=method, seed=seed)
            ckpt = None
            if PRETRAIN[method] is not None:
                cfg = _pretrain_cfg(root, method, seed, data, pretrain_iters,
                                    num_train, pretrain_options)
                work = osp.join(out, 'pretrain', f'{method}_seed{seed}')
                res = jobs.run(cfg, work, dict(
                    config=PRETRAIN[method], seed=seed, data=data,
                    iters=pretrain_iters, num_train=num_train,
                    **({} if not pretrain_options else dict(
                        options=pretrain_options))))
                iters = int(cfg.train_cfg.max_iters)
                if res['iters'] != iters:
                    raise RuntimeError(
                        f'fashion_mnist_check: {work} ran {res["iters"]} '
                        f'iterations, its config {iters}.')
                budgets[method] = dict(
                    iters=iters, batch=int(cfg.train_dataloader.batch_size))
                run['pretrain_seconds'] = res['seconds']
                ckpt = _last_checkpoint(work, iters)
            evaluated = osp.join(out, 'eval', f'{method}_seed{seed}.json')
            if resume and osp.isfile(evaluated):
                with open(evaluated) as f:
                    run.update(json.load(f))
            else:
                began = time.time()
                encoder = encoder_from_checkpoint(root, ckpt, seed, ft_cfg)
                bank = encoder_features(encoder, train_arr, mean, std)
                query = encoder_features(encoder, test_arrays['image'], mean,
                                         std)
                scores = dict(
                    knn=knn_accuracy(bank, train_y, query, test_y,
                                     k=min(knn_k, len(bank)),
                                     num_classes=10),
                    linear=linear_probe_accuracy(bank, train_y, query,
                                                 test_y, num_classes=10),
                    eval_seconds=round(time.time() - began, 1))
                os.makedirs(osp.dirname(evaluated), exist_ok=True)
                with open(evaluated, 'w') as f:
                    json.dump(scores, f, indent=1)
                run.update(scores)
            if finetune:
                run.update(_finetune(root, out, jobs, method, ckpt, seed, data,
                                     finetune_iters, finetune_config,
                                     test_arrays, test_y))
            runs.append(run)
            print(f'[fashion_mnist_check] {method} seed {seed}: ' + ', '.join(
                f'{p} {run[p]:.4f}' for p in PROTOCOLS if p in run),
                flush=True)
    if len({(b['iters'], b['batch']) for b in budgets.values()}) > 1:
        raise RuntimeError('fashion_mnist_check: unequal pre-training '
                           f'budgets {budgets}.')
    summary = summarise_check(runs)
    return dict(
        command=command, data=data, seeds=list(seeds), methods=list(methods),
        finetune_config=finetune_config, pretrain_options=pretrain_options,
        budgets=budgets, runs=runs, summary=summary,
        verdict=verdict(summary), num_bank=len(train_y),
        num_test=len(test_y), machine=machine(),
        seconds=round(time.time() - start, 1))


def machine() -> str:
    """CPU model, cores and torch threads of this machine."""
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return (f'{model}, {os.cpu_count()} cores, torch '
            f'{torch.__version__} with {torch.get_num_threads()} threads')


def summarise_check(runs: Sequence[dict],
                    protocols: Optional[Sequence[str]] = None
                    ) -> Dict[str, dict]:
    """Mean and sample std (over seeds) of each protocol per method;
    ``protocols`` defaults to those of :data:`PROTOCOLS` every run scored
    (kNN and linear only after ``finetune=False``)."""
    if protocols is None:
        protocols = [p for p in PROTOCOLS if all(p in r for r in runs)]
    out: Dict[str, dict] = {}
    for method in dict.fromkeys(r['method'] for r in runs):
        rows = [r for r in runs if r['method'] == method]
        out[method] = {}
        for p in protocols:
            values = np.array([r[p] for r in rows], dtype=float)
            out[method][p] = dict(
                mean=float(values.mean()),
                std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                values=values.tolist())
    return out


def verdict(summary: Dict[str, dict], margin: float = 0.01) -> dict:
    """The check's goals, each True / False with the figures.

    - ``beats_random``: per pre-training method and protocol (kNN, linear),
      mean above random init's by more than ``margin`` and by more than
      the two standard deviations added;
    - ``mics_level_with_best``: per protocol (kNN, linear), MICS' mean at
      least the best baseline's mean minus that baseline's std;
    - ``finetune_below_scratch``: methods whose 1 % fine-tuning mean is
      below random init's while their linear probe beats random init's.
    """
    out = dict(beats_random={}, mics_level_with_best={},
               finetune_below_scratch=[])
    rand = summary.get('random')
    baselines = [m for m in summary if m not in ('mics', 'random')]
    for method, row in summary.items():
        if method == 'random' or rand is None:
            continue
        out['beats_random'][method] = {
            p: bool(row[p]['mean'] - rand[p]['mean'] > max(
                margin, row[p]['std'] + rand[p]['std']))
            for p in ('knn', 'linear')
        }
        if 'finetune_1pct' in row and \
                row['finetune_1pct']['mean'] < rand['finetune_1pct']['mean'] and \
                out['beats_random'][method]['linear']:
            out['finetune_below_scratch'].append(method)
    if 'mics' in summary and baselines:
        for p in ('knn', 'linear'):
            best = max(baselines, key=lambda m: summary[m][p]['mean'])
            out['mics_level_with_best'][p] = dict(
                best=best,
                level=bool(summary['mics'][p]['mean'] >=
                           summary[best][p]['mean'] -
                           summary[best][p]['std']))
    return out


def check_markdown(result: dict) -> str:
    """The results table (mean +- std over seeds, in %) and the verdict."""
    names = dict(knn='kNN (k=20) top-1', linear='linear probe top-1',
                 finetune_1pct='fine-tune 1 % labels top-1')
    protocols = [p for p in PROTOCOLS
                 if p in next(iter(result['summary'].values()))]
    lines = ['| method | ' + ' | '.join(names[p] for p in protocols) + ' |',
             '| --- |' + ' --- |' * len(protocols)]
    for method, row in result['summary'].items():
        cells = [f'{100 * row[p]["mean"]:.2f} +- {100 * row[p]["std"]:.2f}'
                 for p in protocols]
        lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    budget = next(iter(result['budgets'].values()), None)
    lines.append('')
    if budget:
        lines.append(f'Pre-training: {budget["iters"]} iterations of batch '
                     f'{budget["batch"]} for every method; seeds '
                     f'{result["seeds"]}; kNN bank and probe training set: '
                     f'the first {result["num_bank"]} training images; '
                     f'{result["num_test"]} test images; '
                     f'{result["seconds"] / 60:.1f} min on {result["machine"]}.')
    lines.append('')
    lines.append('Verdict: ' + json.dumps(result['verdict']))
    return '\n'.join(lines) + '\n'
