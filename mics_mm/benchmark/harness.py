"""The label-efficiency benchmark end to end: pre-train every (method,
backbone) pair under one budget, fine-tune each encoder at every protocol,
labelled fraction and seed, and collect the runs, budgets, summary and
targets (``tools/benchmark/label_efficiency.py`` is its command line)."""
import argparse
import importlib
import os
import os.path as osp
import platform
import time
from dataclasses import dataclass, fields
from typing import Dict, List

from .config_edit import finetune_cfg, pretrain_cfg
from .data import brain_fraction_manifest
from .jobs import Jobs
from .stats import (check_equal_budgets, check_equal_finetune_iters,
                    summarise, targets)
from .tables import TASKS, plan

__all__ = ['Settings', 'run_benchmark', 'machine_description']


@dataclass
class Settings:
    """What a benchmark run covers and under which budgets.

    Args:
        task (str): A key of :data:`~mics_mm.benchmark.tables.TASKS`.
        out (str): Output folder.
        methods (list[str]): Methods of the task's table.
        backbones (list[str]): Backbones (``resnet18``, ``vit-tiny``).
        fractions (list[float]): Labelled fractions in (0, 1].
        seeds (list[int]): Fine-tuning seeds.
        protocols (list[str]): ``finetune`` and / or ``linear``.
        pretrain_epochs (int): Pre-training epochs of every method.
        pretrain_batch (int): Pre-training batch size of every method.
        finetune_iters (int): Fine-tuning iterations of every run.
        finetune_batch (int): Fine-tuning batch size of every run.
        workers (int): Data-loader workers. Defaults to 2.
        resume (bool): Reuse the finished jobs under ``out``.
        overwrite (bool): Run every job again.
    """
    task: str
    out: str
    methods: List[str]
    backbones: List[str]
    fractions: List[float]
    seeds: List[int]
    protocols: List[str]
    pretrain_epochs: int
    pretrain_batch: int
    finetune_iters: int
    finetune_batch: int
    workers: int = 2
    resume: bool = False
    overwrite: bool = False

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> 'Settings':
        """The settings of parsed command-line arguments (attributes of
        the same names; others are ignored).

        Args:
            args (argparse.Namespace): Parsed arguments.

        Returns:
            Settings: The settings.
        """
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


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
    epochs, images_per_sample, seconds)``."""
    task = TASKS[settings.task]
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
        work = osp.join(settings.out, 'pretrain', name)
        ckpt = osp.join(work, f'epoch_{settings.pretrain_epochs}.pth')
        result = jobs.run(
            cfg, work,
            dict(config=pair['config'], data=data,
                 epochs=settings.pretrain_epochs,
                 batch=settings.pretrain_batch))
        if not osp.isfile(ckpt):
            raise FileNotFoundError(
                f'label_efficiency: {name} finished without {ckpt}')
        pretrained[name] = dict(
            config=pair['config'],
            checkpoint=ckpt,
            iters=result['iters'],
            batch_size=cfg.train_dataloader.batch_size,
            epochs=settings.pretrain_epochs,
            images_per_sample=task['images_per_sample'][pair['method']],
            seconds=result['seconds'])
    return pretrained


def _finetune_all(settings: Settings, pairs: List[dict],
                  pretrained: Dict[str, dict], data: str, jobs: Jobs,
                  root: str) -> List[dict]:
    """Fine-tune every planned pair (pre-trained or, for ``scratch``,
    random) at each protocol the backbone has a config for, fraction and
    seed; returns the runs."""
    task = TASKS[settings.task]
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
                if settings.task == 'brain-seg':
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
                    result = jobs.run(
                        cfg, osp.join(settings.out, 'finetune', tag),
                        dict(config=config, data=data, checkpoint=ckpt,
                             fraction=fraction, seed=seed,
                             iters=settings.finetune_iters,
                             batch=settings.finetune_batch))
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
    task = TASKS[settings.task]
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

    Jobs run in this process, under ``<out>/pretrain/<method>_<backbone>``
    and ``<out>/finetune/<tag>`` (:class:`~mics_mm.benchmark.jobs.Jobs`).
    Nothing is written besides the jobs' folders and the brain task's
    manifests; :func:`~mics_mm.benchmark.report.write_reports` writes the
    reports.

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
        ``targets`` and ``seconds`` (this call's wall time).

    Raises:
        RuntimeError: Unequal pre-training or fine-tuning budgets.
        FileExistsError: ``out`` holds finished jobs and neither resume
            nor overwrite is set.
    """
    if settings.task == 'brain-seg':
        # registers the mmsegmentation parts the brain configs build
        importlib.import_module('mics_mm.seg')
    task = TASKS[settings.task]
    start = time.time()
    meta = dict(
        task=settings.task,
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
    pairs = plan(settings.task, settings.methods, settings.backbones)
    jobs = Jobs(settings.out, settings.resume, settings.overwrite,
                total=count_jobs(settings, pairs))
    pretrained = _pretrain_all(settings, pairs, data, jobs, root)
    budget = check_equal_budgets(pretrained, task['single_modality'])
    runs = _finetune_all(settings, pairs, pretrained, data, jobs, root)
    check_equal_finetune_iters(runs)
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
