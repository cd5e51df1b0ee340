"""Running the label-efficiency benchmark's jobs in this process, each
recorded in its work dir (``job.json``) so that an interrupted benchmark
can resume and a finished one is never overwritten by accident."""
import copy
import gc
import json
import os
import os.path as osp
import time
from typing import Any, Dict, List

from mmengine.config import Config

__all__ = ['run_job', 'Jobs']


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

    Raises:
        FileExistsError: ``out`` holds finished jobs and neither
            ``resume`` nor ``overwrite`` is set.

    Attributes:
        reused (list[str]): Work dirs of the jobs reused so far.
    """
    RECORD = 'job.json'

    def __init__(self, out: str, resume: bool = False,
                 overwrite: bool = False, total: int = 0) -> None:
        self.out, self.resume = out, resume
        self.reused: List[str] = []
        self.total, self.started = total, 0
        self._clock = time.time()
        self._ran, self._ran_seconds = 0, 0.0
        if not (resume or overwrite):
            done = self.finished()
            if done:
                raise FileExistsError(
                    f'label_efficiency: {out} already holds {len(done)} '
                    f'finished jobs (e.g. {done[0]}); pass --resume to '
                    'reuse them and run the rest, --overwrite to run them '
                    'again, or choose another --out.')

    def progress(self, work_dir: str) -> str:
        """``job i of N``, the time since the first job and an estimate of
        what is left (the mean time of the jobs run so far, reused ones
        not counted, times the jobs still to start, this one included)."""
        elapsed = time.time() - self._clock
        line = (f'[label_efficiency] job {self.started}'
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

    def run(self, cfg: Config, work_dir: str, key: dict) -> dict:
        """Run a job (:func:`run_job`), or reuse its recorded result.

        Args:
            cfg (Config): The job's config.
            work_dir (str): The job's work dir.
            key (dict): The settings that identify the job (JSON-able).

        Returns:
            dict: The result of :func:`run_job`.

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
                    f'label_efficiency --resume: {record} was run with '
                    f'other settings ({saved.get("key")} != {key}); use '
                    'another --out, or --overwrite.')
            self.reused.append(work_dir)
            print(f'[label_efficiency] reusing {work_dir}', flush=True)
            return saved['result']
        began = time.time()
        result = run_job(cfg, work_dir)
        self._ran += 1
        self._ran_seconds += time.time() - began
        tmp = record + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(key=key, result=result), f, indent=1)
        os.replace(tmp, record)
        return result
