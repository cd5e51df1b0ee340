"""Running the label-efficiency benchmark's jobs, each recorded in its
work dir (``job.json``) so that an interrupted benchmark can resume and a
finished one is never overwritten by accident.

A job runs in this process (:func:`run_job`; the demo on one device), or
as commands (:func:`job_commands`, :func:`run_commands`): its config
dumped into its work dir and trained with ``python tools/train.py`` (one
GPU) or ``bash tools/dist_train.sh CONFIG N`` (N GPUs), then tested from
its last checkpoint with ``tools/test.py`` / ``tools/dist_test.sh``.
:class:`Jobs` can also list the commands without running any (a dry
run)."""
import copy
import gc
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from mmengine.config import Config

__all__ = ['run_job', 'job_commands', 'run_commands', 'Jobs']


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


def run_job(cfg: Config, work_dir: str, train: bool = True) -> dict:
    """Build a Runner from ``cfg`` in this process; train and / or test.

    Args:
        cfg (Config): The job's config (copied, not changed).
        work_dir (str): The job's work dir.
        train (bool): Train before testing. Defaults to True.

    Returns:
        dict: ``metrics`` (the numeric test metrics, or None without a
        test loop), ``iters`` (training iterations run) and ``seconds``.
    """
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir) + '_' + str(time.time_ns())
    start = time.time()
    runner = Runner.from_cfg(cfg)
    out: Dict[str, Any] = dict(iters=0, metrics=None)
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


def _has_test(cfg: Config) -> bool:
    return cfg.get('test_dataloader') is not None and \
        cfg.get('test_cfg') is not None


def _config_path(cfg: Config, work_dir: str) -> str:
    """Where a job's config is dumped: its work dir, under the name of the
    config it derives from (where mmengine's Runner writes it too)."""
    return osp.join(work_dir, osp.basename(cfg.filename or 'job.py'))


def _last_checkpoint(cfg: Config, work_dir: str) -> str:
    """The checkpoint a job's training ends with (``iter_N.pth`` of an
    iteration-based loop, else ``epoch_N.pth``)."""
    loop = cfg.train_cfg
    if loop.get('type') == 'IterBasedTrainLoop':
        return osp.join(work_dir, f'iter_{loop.max_iters}.pth')
    return osp.join(work_dir, f'epoch_{loop.max_epochs}.pth')


def job_commands(cfg: Config, work_dir: str, gpus: int,
                 cfg_options: Optional[Dict[str, Any]] = None,
                 python: Optional[str] = None) -> List[List[str]]:
    """The commands that run a job on ``gpus`` GPUs from the repository
    root.

    Training: ``bash tools/dist_train.sh CONFIG gpus`` (``gpus > 1``) or
    ``python tools/train.py CONFIG`` (one), with ``--work-dir work_dir
    --overwrite`` (the harness owns the folder; a finished job is never
    run again by accident, :class:`Jobs`) and ``--cfg-options`` (the
    settings that tell the jobs apart, as the dumped config already holds
    them, so that the command line says which job it is). CONFIG is the
    job's config dumped into its work dir under the name of the config it
    derives from. A config with a test loop is then tested from its last
    checkpoint: ``bash tools/dist_test.sh`` / ``python tools/test.py``,
    ``--out <work_dir>/test_metrics.json``.

    Args:
        cfg (Config): The job's config (its ``filename`` names it).
        work_dir (str): The job's work dir (absolute).
        gpus (int): GPUs (processes) per job.
        cfg_options (dict, optional): ``key -> value`` shown as
            ``--cfg-options key=value``.
        python (str, optional): Interpreter. Defaults to this one.

    Returns:
        list[list[str]]: The training command, then the test command if
        the config has a test loop.
    """
    python = python or sys.executable
    config = _config_path(cfg, work_dir)
    options = ['--cfg-options'] + [
        f'{k}={v}' for k, v in cfg_options.items()] if cfg_options else []
    if gpus > 1:
        train = ['bash', 'tools/dist_train.sh', config, str(gpus)]
    else:
        train = [python, 'tools/train.py', config]
    commands = [train + ['--work-dir', work_dir, '--overwrite'] + options]
    if _has_test(cfg):
        ckpt = _last_checkpoint(cfg, work_dir)
        if gpus > 1:
            test = ['bash', 'tools/dist_test.sh', config, ckpt, str(gpus)]
        else:
            test = [python, 'tools/test.py', config, ckpt]
        commands.append(test + [
            '--work-dir', work_dir, '--out',
            osp.join(work_dir, 'test_metrics.json')
        ])
    return commands


def show_command(command: List[str], python: Optional[str] = None) -> str:
    """A command as a shell line; the distributed scripts get the
    interpreter they run (``PYTHON=...``)."""
    line = shlex.join(command)
    if command[0] == 'bash':
        line = f'PYTHON={shlex.quote(python or sys.executable)} {line}'
    return line


def job_config(cfg: Config, work_dir: str) -> Config:
    """The job's config as the commands run it: a job with a test loop
    keeps its last checkpoint (``SafeCheckpointHook``, ``save_last``) for
    the test, which :func:`run_commands` deletes afterwards."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    if _has_test(cfg):
        by_epoch = cfg.train_cfg.get('type') != 'IterBasedTrainLoop'
        cfg.default_hooks.checkpoint = dict(
            type='SafeCheckpointHook', interval=-1, by_epoch=by_epoch,
            save_last=True, max_keep_ckpts=1)
    return cfg


def run_commands(cfg: Config, work_dir: str, gpus: int, root: str,
                 cfg_options: Optional[Dict[str, Any]] = None) -> dict:
    """Run a job as commands (:func:`job_commands`) from ``root``.

    The config is dumped into the work dir first; the distributed scripts
    run this interpreter (``PYTHON``). The iterations trained come from
    the last checkpoint's ``meta``; a tested job's metrics from its
    ``test_metrics.json``, after which its checkpoint is deleted (no
    fine-tuning checkpoint is kept, as in :func:`run_job`).

    Args:
        cfg (Config): The job's config.
        work_dir (str): The job's work dir (absolute).
        gpus (int): GPUs per job.
        root (str): The repository root.
        cfg_options (dict, optional): Shown on the training command line.

    Returns:
        dict: ``metrics``, ``iters`` and ``seconds``, as :func:`run_job`.

    Raises:
        RuntimeError: A command failed, or the training left no
            checkpoint.
    """
    from ..utils.checkpoint_io import read_checkpoint
    start = time.time()
    cfg = job_config(cfg, work_dir)
    os.makedirs(work_dir, exist_ok=True)
    commands = job_commands(cfg, work_dir, gpus, cfg_options)
    cfg.dump(_config_path(cfg, work_dir))
    env = dict(os.environ, PYTHON=sys.executable)
    for command in commands:
        print('[label_efficiency] ' + show_command(command), flush=True)
        code = subprocess.call(command, cwd=root, env=env)
        if code:
            raise RuntimeError(
                f'label_efficiency: {shlex.join(command)} exited with '
                f'status {code}; the log is under {work_dir}')
    ckpt = _last_checkpoint(cfg, work_dir)
    if not osp.isfile(ckpt):
        raise RuntimeError(f'label_efficiency: {work_dir} finished without '
                           f'{ckpt}')
    meta = read_checkpoint(ckpt).get('meta') or {}
    out: Dict[str, Any] = dict(iters=int(meta.get('iter', 0)), metrics=None)
    if len(commands) > 1:
        with open(osp.join(work_dir, 'test_metrics.json')) as f:
            out['metrics'] = {
                k: float(v)
                for k, v in json.load(f).items()
                if isinstance(v, (int, float))
            }
        os.remove(ckpt)
        pointer = osp.join(work_dir, 'last_checkpoint')
        if osp.isfile(pointer):
            os.remove(pointer)  # it named the deleted checkpoint
    out['seconds'] = round(time.time() - start, 1)
    return out


class Jobs:
    """Runs the benchmark's jobs, each in its own work dir, and records
    each finished one in ``<work_dir>/job.json`` with the settings it ran
    with (``key``).

    With ``resume``, a job whose record has the same key is not run again;
    a record with other settings is an error (the folder belongs to another
    benchmark). Without ``resume`` or ``overwrite``, an output folder that
    already holds finished jobs is refused, so a second run never replaces
    the first one's checkpoints by accident.

    Args:
        out (str): The benchmark's output folder (jobs under
            ``pretrain/`` and ``finetune/``).
        resume (bool): Reuse finished jobs with the same settings.
        overwrite (bool): Run every job again.
        total (int): How many jobs the benchmark has, for the progress
            line each job prints (``job i of N``, elapsed time, estimate
            of what is left). 0: not known.
        gpus (int): GPUs per job; above 1 the jobs run as
            ``tools/dist_train.sh`` commands. Defaults to 1.
        commands (bool): Run every job as commands (:func:`run_commands`)
            rather than in this process (:func:`run_job`); implied by
            ``gpus > 1``. Defaults to False.
        dry_run (bool): Print each job's commands (or, in this process,
            its config and settings) and run nothing; nothing is written.
            Defaults to False.
        root (str, optional): The repository root the commands run from.
        name (str): The tool's name in the progress lines and messages.
            Defaults to 'label_efficiency'.

    Raises:
        FileExistsError: ``out`` holds finished jobs and neither
            ``resume`` nor ``overwrite`` is set.

    Attributes:
        reused (list[str]): Work dirs of the jobs reused so far.
        planned (list[dict]): With ``dry_run``: each job's ``work_dir``,
            ``config`` (the one it derives from) and ``commands``.
    """
    RECORD = 'job.json'

    def __init__(self, out: str, resume: bool = False,
                 overwrite: bool = False, total: int = 0, gpus: int = 1,
                 commands: bool = False, dry_run: bool = False,
                 root: Optional[str] = None,
                 name: str = 'label_efficiency') -> None:
        self.out, self.resume, self.name = out, resume, name
        self.gpus, self.dry_run, self.root = gpus, dry_run, root
        self.commands = commands or gpus > 1
        self.reused: List[str] = []
        self.planned: List[dict] = []
        self.total, self.started = total, 0
        self._clock = time.time()
        self._ran, self._ran_seconds = 0, 0.0
        if not (resume or overwrite):
            done = self.finished()
            if done:
                raise FileExistsError(
                    f'{name}: {out} already holds {len(done)} '
                    f'finished jobs (e.g. {done[0]}); pass --resume to '
                    'reuse them and run the rest, --overwrite to run them '
                    'again, or choose another --out.')

    def progress(self, work_dir: str) -> str:
        """``job i of N``, the time since the first job and an estimate of
        what is left (the mean time of the jobs run so far, reused ones
        not counted, times the jobs still to start, this one included)."""
        elapsed = time.time() - self._clock
        line = (f'[{self.name}] job {self.started}'
                + (f' of {self.total}' if self.total else '')
                + f': {osp.basename(work_dir)}; elapsed {_hms(elapsed)}')
        if self.total and self._ran:
            left = self.total - self.started + 1
            line += (f', about {_hms(self._ran_seconds / self._ran * left)}'
                     ' left')
        return line

    def finished(self) -> List[str]:
        """Work dirs under ``out`` that hold a job record.

        Returns:
            list[str]: Pre-training ones, then fine-tuning ones, each
            sorted.
        """
        found = []
        for stage in ('pretrain', 'finetune'):
            folder = osp.join(self.out, stage)
            if osp.isdir(folder):
                found += sorted(
                    osp.join(folder, d) for d in os.listdir(folder)
                    if osp.isfile(osp.join(folder, d, self.RECORD)))
        return found

    def run(self, cfg: Config, work_dir: str, key: dict,
            cfg_options: Optional[Dict[str, Any]] = None) -> dict:
        """Run a job (:func:`run_job` or :func:`run_commands`), or reuse
        its recorded result; with ``dry_run`` only print it.

        Args:
            cfg (Config): The job's config.
            work_dir (str): The job's work dir.
            key (dict): The settings that identify the job (JSON-able).
            cfg_options (dict, optional): The settings that tell the jobs
                apart (already in ``cfg``), shown on its command line.

        Returns:
            dict: The result of :func:`run_job` (a dry run:
            ``iters=None, metrics=None, seconds=0.0``).

        Raises:
            RuntimeError: With ``resume``, the work dir's record has
                another key.
        """
        self.started += 1
        print(self.progress(work_dir), flush=True)
        record = osp.join(work_dir, self.RECORD)
        if self.resume and osp.isfile(record):
            with open(record) as f:
                saved = json.load(f)
            if saved.get('key') != key:
                raise RuntimeError(
                    f'{self.name} --resume: {record} was run with '
                    f'other settings ({saved.get("key")} != {key}); use '
                    'another --out, or --overwrite.')
            self.reused.append(work_dir)
            print(f'[{self.name}] reusing {work_dir}', flush=True)
            return saved['result']
        if self.dry_run:
            self._plan(cfg, work_dir, cfg_options or {})
            return dict(iters=None, metrics=None, seconds=0.0)
        began = time.time()
        if self.commands:
            result = run_commands(cfg, osp.abspath(work_dir), self.gpus,
                                  self.root or os.getcwd(), cfg_options)
        else:
            result = run_job(cfg, work_dir)
        self._ran += 1
        self._ran_seconds += time.time() - began
        tmp = record + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(key=key, result=result), f, indent=1)
        os.replace(tmp, record)
        return result

    def _plan(self, cfg: Config, work_dir: str, options: dict) -> None:
        """Print (and keep in :attr:`planned`) what a job would run."""
        source = osp.relpath(cfg.filename, self.root) if (
            self.root and cfg.filename) else cfg.filename
        if self.commands:
            work = osp.abspath(work_dir)
            commands = job_commands(job_config(cfg, work), work, self.gpus,
                                    options)
            lines = [show_command(c) for c in commands]
        else:
            commands = []
            settings = ' '.join(f'{k}={v}' for k, v in options.items())
            lines = [f'(in this process) {source} in {work_dir}'
                     + (f'; {settings}' if settings else '')]
        self.planned.append(dict(work_dir=work_dir, config=source,
                                 commands=commands))
        print(f'[label_efficiency] dry run, from {source}:', flush=True)
        for line in lines:
            print('  ' + line, flush=True)
