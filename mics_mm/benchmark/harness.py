"""The label-efficiency benchmark end to end: pre-train every (method,
backbone) pair under one budget, fine-tune each encoder at every protocol,
labelled fraction and seed, and collect the runs, budgets, summary and
targets (``tools/benchmark/label_efficiency.py`` is its command line).

At ``scale='demo'`` (the default) on one device every job runs in this
process; at ``scale='paper'`` (the full-size configs) or on several GPUs
each job runs as commands (``tools/train.py`` / ``tools/dist_train.sh``,
:mod:`.jobs`); ``dry_run`` lists them without running any."""
import argparse
import dataclasses
import importlib
import os
import os.path as osp
import platform
import time
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional

from .config_edit import finetune_cfg, pretrain_cfg
from .data import brain_fraction_manifest
from .jobs import Jobs
from .stats import (check_equal_budgets, check_equal_finetune_iters,
                    summarise, targets)
from .tables import plan, task_table

__all__ = ['Settings', 'run_benchmark', 'machine_description']


@dataclass
class Settings:
    """What a benchmark run covers and under which budgets.

    Args:
        task (str): A key of :data:`~mics_mm.benchmark.tables.TASKS`.
        out (str): Output folder.
        methods (list[str]): Methods of the task's table.
        backbones (list[str]): Backbones (``resnet18``, ``vit-tiny``;
            ``paper``: ``resnet50``, ``vit-base``).
        fractions (list[float]): Labelled fractions in (0, 1].
        seeds (list[int]): Fine-tuning seeds.
        protocols (list[str]): ``finetune`` and / or ``linear``.
        pretrain_epochs (int, optional): Pre-training epochs of every
            method; None: each config's (``paper``).
        pretrain_batch (int, optional): Pre-training batch size (per GPU)
            of every method; None: each config's.
        finetune_iters (int, optional): Fine-tuning iterations of every
            run; None: the config's (iteration-based configs only).
        finetune_batch (int, optional): Fine-tuning batch size (per GPU);
            None: the config's.
        workers (int, optional): Data-loader workers; None: each config's.
            Defaults to 2.
        resume (bool): Reuse the finished jobs under ``out``.
        overwrite (bool): Run every job again.
        scale (str): ``demo`` or ``paper``
            (:func:`~mics_mm.benchmark.tables.task_table`). Defaults to
            'demo'.
        gpus (int): GPUs per job (``tools/dist_train.sh`` above 1).
            Defaults to 1.
        dry_run (bool): List every job's commands, run none. Defaults to
            False.
    """
    task: str
    out: str
    methods: List[str]
    backbones: List[str]
    fractions: List[float]
    seeds: List[int]
    protocols: List[str]
    pretrain_epochs: Optional[int]
    pretrain_batch: Optional[int]
    finetune_iters: Optional[int]
    finetune_batch: Optional[int]
    workers: Optional[int] = 2
    resume: bool = False
    overwrite: bool = False
    scale: str = 'demo'
    gpus: int = 1
    dry_run: bool = False

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> 'Settings':
        """The settings of parsed command-line arguments (attributes of
        the same names; others are ignored; a field with a default may be
        missing).

        Args:
            args (argparse.Namespace): Parsed arguments.

        Returns:
            Settings: The settings.
        """
        return cls(**{
            f.name: getattr(args, f.name)
            for f in fields(cls) if hasattr(args, f.name)
        })

    @property
    def as_commands(self) -> bool:
        """Whether the jobs run as commands (``paper`` scale or several
        GPUs) rather than in this process."""
        return self.scale != 'demo' or self.gpus > 1


def _key_extra(settings: Settings) -> Dict[str, Any]:
    """What a job's record adds to its key beyond the demo's (none there,
    so that demo records stay reusable): the GPUs, which set the global
    batch."""
    return {} if not settings.as_commands else dict(gpus=settings.gpus)


def _options(cfg, keys: List[str]) -> Dict[str, Any]:
    """``key -> value`` of the dotted ``keys`` the job config has (a
    ``RepeatDataset`` looked through), shown on a job's command line."""
    found, missing = {}, object()
    for key in keys:
        node, parts = cfg, key.split('.')
        if parts[:2] == ['train_dataloader', 'dataset'] and \
                cfg.train_dataloader.dataset.get('type') == 'RepeatDataset':
            parts = parts[:2] + ['dataset'] + parts[2:]
        for part in parts:
            node = node.get(part, missing) if hasattr(node, 'get') \
                else missing
        if node is not missing:
            found['.'.join(parts)] = node
    return found


def machine_description() -> str:
    """Architecture, cores, GPU or not, and the torch version.

    Returns:
        str: E.g. ``x86_64, 2 cores, no GPU, torch 2.4.0``.
    """
    import torch
    return (f'{platform.machine()}, {os.cpu_count()} cores, '
            f'{"GPU" if torch.cuda.is_available() else "no GPU"}, torch '
            f'{torch.__version__}')


def _pretrain_all(settings: Settings, pairs: List[dict], data: str,
                  jobs: Jobs, root: str) -> Dict[str, dict]:
    """Pre-train every planned pair that has a config; returns
    ``<method>_<backbone> -> dict(config, checkpoint, iters, batch_size,
    epochs, images_per_sample, seconds)`` (``batch_size``: the global
    batch, per GPU x GPUs)."""
    task = task_table(settings.task, settings.scale)
    pretrained: Dict[str, dict] = {}
    for pair in pairs:
        if 'skipped' in pair or pair['config'] is None:
            continue
        name = f'{pair["method"]}_{pair["backbone"]}'
        print(f'[label_efficiency] pre-training {name}', flush=True)
        cfg = pretrain_cfg(
            pair['config'], data, task=settings.task,
            epochs=settings.pretrain_epochs, batch=settings.pretrain_batch,
            workers=settings.workers, root=root)
        epochs = cfg.train_cfg.max_epochs
        batch = cfg.train_dataloader.batch_size
        work = osp.join(settings.out, 'pretrain', name)
        ckpt = osp.join(work, f'epoch_{epochs}.pth')
        result = jobs.run(
            cfg, work,
            dict(config=pair['config'], data=data, epochs=epochs,
                 batch=batch, **_key_extra(settings)),
            _options(cfg, [
                'train_dataloader.dataset.data_root',
                'train_dataloader.dataset.ann_file', 'train_cfg.max_epochs',
                'train_dataloader.batch_size'
            ]))
        if not settings.dry_run and not osp.isfile(ckpt):
            raise FileNotFoundError(
                f'label_efficiency: {name} finished without {ckpt}')
        pretrained[name] = dict(
            config=pair['config'],
            checkpoint=ckpt,
            iters=result['iters'],
            batch_size=batch * settings.gpus,
            epochs=epochs,
            images_per_sample=task['images_per_sample'][pair['method']],
            seconds=result['seconds'])
    return pretrained


def _finetune_all(settings: Settings, pairs: List[dict],
                  pretrained: Dict[str, dict], data: str, jobs: Jobs,
                  root: str, budget: Optional[dict] = None) -> List[dict]:
    """Fine-tune every planned pair (pre-trained or, for ``scratch``,
    random) at each protocol the backbone has a config for, fraction and
    seed; returns the runs. ``budget`` (if given) gets the iterations and
    global batch of the jobs' configs (``iters``, ``batch``)."""
    task = task_table(settings.task, settings.scale)
    runs = []
    for pair in pairs:
        if 'skipped' in pair:
            continue
        method, backbone = pair['method'], pair['backbone']
        name = f'{method}_{backbone}'
        ckpt = pretrained[name]['checkpoint'] if name in pretrained else None
        for protocol in settings.protocols:
            if (backbone, protocol) not in task['finetune']:
                continue
            config = task['finetune'][(backbone, protocol)]
            for fraction in settings.fractions:
                train_ann = None
                if settings.task == 'brain-seg' and settings.dry_run:
                    train_ann = osp.abspath(osp.join(
                        settings.out, f'seg_train_{fraction:g}.json'))
                elif settings.task == 'brain-seg':
                    train_ann = brain_fraction_manifest(
                        data, fraction, settings.out)
                for seed in settings.seeds:
                    tag = f'{name}_{protocol}_{fraction:g}_s{seed}'
                    print(f'[label_efficiency] fine-tuning {tag}',
                          flush=True)
                    cfg = finetune_cfg(
                        config, data, task=settings.task, checkpoint=ckpt,
                        fraction=fraction, seed=seed,
                        iters=settings.finetune_iters,
                        batch=settings.finetune_batch,
                        workers=settings.workers, root=root,
                        train_ann=train_ann)
                    iters = cfg.train_cfg.max_iters
                    if budget is not None:
                        budget.setdefault('iters', iters)
                        budget.setdefault(
                            'batch',
                            cfg.train_dataloader.batch_size * settings.gpus)
                    result = jobs.run(
                        cfg, osp.join(settings.out, 'finetune', tag),
                        dict(config=config, data=data, checkpoint=ckpt,
                             fraction=fraction, seed=seed, iters=iters,
                             batch=cfg.train_dataloader.batch_size,
                             **_key_extra(settings)),
                        _options(cfg, [
                            'model.pretrained',
                            'train_dataloader.dataset.ann_file',
                            'randomness.seed'
                        ]))
                    metrics = result['metrics'] or {}
                    runs.append(
                        dict(method=method, backbone=backbone,
                             protocol=protocol, fraction=fraction,
                             seed=seed, iters=result['iters'],
                             seconds=result['seconds'], metrics=metrics))
    return runs


def count_jobs(settings: Settings, pairs: List[dict]) -> int:
    """How many jobs :func:`run_benchmark` runs (or reuses): one
    pre-training per planned pair with a config, one fine-tuning per pair,
    protocol the backbone has, fraction and seed."""
    task = task_table(settings.task, settings.scale)
    total = 0
    for pair in pairs:
        if 'skipped' in pair:
            continue
        total += pair['config'] is not None
        protocols = [
            p for p in settings.protocols
            if (pair['backbone'], p) in task['finetune']
        ]
        total += len(protocols) * len(settings.fractions) * len(
            settings.seeds)
    return total


def run_benchmark(settings: Settings, data: str, root: str,
                  command: str) -> dict:
    """Run (or, with ``settings.resume``, complete) the benchmark.

    Jobs run under ``<out>/pretrain/<method>_<backbone>`` and
    ``<out>/finetune/<tag>`` (:class:`~mics_mm.benchmark.jobs.Jobs`): in
    this process at demo scale on one device, else as commands
    (``tools/train.py``, or ``tools/dist_train.sh`` on ``settings.gpus``
    GPUs; ``<out>`` is then made absolute, as they run from ``root``).
    Nothing is written besides the jobs' folders and the brain task's
    manifests; :func:`~mics_mm.benchmark.report.write_reports` writes the
    reports. With ``settings.dry_run`` every job's commands are printed and
    nothing is run or written.

    Args:
        settings (Settings): What to run.
        data (str): The dataset folder
            (:func:`~mics_mm.benchmark.data.prepare_data`).
        root (str): The repository root (config paths are relative to it).
        command (str): The command line, recorded in ``meta``.

    Returns:
        dict: ``meta``, ``budget``, ``pretrain``, ``skipped``,
        ``reused_jobs``, ``runs``, ``job_seconds`` (the jobs' own run
        times, reused ones with their original time), ``summary``,
        ``targets`` and ``seconds`` (this call's wall time). A dry run:
        ``meta``, ``dry_run`` (True), ``jobs`` (each job's ``work_dir``,
        ``config`` and ``commands``), ``skipped`` and ``seconds``.

    Raises:
        RuntimeError: Unequal pre-training or fine-tuning budgets.
        FileExistsError: ``out`` holds finished jobs and neither resume
            nor overwrite is set.
    """
    if settings.task == 'brain-seg':
        # registers the mmsegmentation parts the brain configs build
        importlib.import_module('mics_mm.seg')
    task = task_table(settings.task, settings.scale)
    if settings.as_commands:
        settings = dataclasses.replace(settings,
                                       out=osp.abspath(settings.out))
    start = time.time()
    meta = dict(
        task=settings.task,
        scale=settings.scale,
        gpus=settings.gpus,
        data=data,
        command=command,
        machine=machine_description(),
        seeds=settings.seeds,
        fractions=settings.fractions,
        protocols=settings.protocols,
        finetune_iters=settings.finetune_iters,
        finetune_batch=settings.finetune_batch,
        pretrain_epochs=settings.pretrain_epochs,
        pretrain_batch=settings.pretrain_batch)
    pairs = plan(settings.task, settings.methods, settings.backbones,
                 settings.scale)
    jobs = Jobs(settings.out, settings.resume, settings.overwrite,
                total=count_jobs(settings, pairs), gpus=settings.gpus,
                commands=settings.as_commands, dry_run=settings.dry_run,
                root=root)
    pretrained = _pretrain_all(settings, pairs, data, jobs, root)
    resolved: Dict[str, Any] = {}
    if settings.dry_run:
        _finetune_all(settings, pairs, pretrained, data, jobs, root)
        print(f'[label_efficiency] dry run: {len(jobs.planned)} jobs '
              f'listed ({len(jobs.reused)} finished ones reused), none '
              'run; each job writes its config into its work dir before '
              'it runs.', flush=True)
        return dict(meta=meta, dry_run=True, jobs=jobs.planned,
                    skipped=[p for p in pairs if 'skipped' in p],
                    seconds=round(time.time() - start, 1))
    budget = check_equal_budgets(pretrained, task['single_modality'])
    runs = _finetune_all(settings, pairs, pretrained, data, jobs, root,
                         resolved)
    check_equal_finetune_iters(runs)
    # what the fine-tunings ran with: the iterations, the global batch
    # (per GPU x GPUs; the budgets of --scale paper come from the configs)
    meta['finetune_iters'] = resolved.get('iters', meta['finetune_iters'])
    meta['finetune_batch'] = resolved.get('batch', meta['finetune_batch'])
    if meta['pretrain_epochs'] is None:
        meta['pretrain_epochs'] = {
            k: p['epochs'] for k, p in pretrained.items()}
    if meta['pretrain_batch'] is None:
        meta['pretrain_batch'] = {
            k: p['batch_size'] for k, p in pretrained.items()}
    rows = summarise(runs, task['metrics'])
    return dict(
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
