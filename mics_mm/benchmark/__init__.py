"""The label-efficiency benchmark of MICS / BrainMVP against mmpretrain's
methods (``tools/benchmark/label_efficiency.py`` is its command line).

Not imported by ``import mics_mm``: the benchmark tools import it.

- :mod:`.tables`: the methods' configs per task and backbone (``demo`` and
  ``paper`` scale), the quick and paper settings, and the (method,
  backbone) plan of a run;
- :mod:`.data`: the dataset folder of a task and the brain task's
  labelled-subject manifests;
- :mod:`.config_edit`: the pre-training and fine-tuning job configs;
- :mod:`.jobs`: running a job in this process or as ``tools/train.py`` /
  ``tools/dist_train.sh`` commands (or listing them: dry run), with
  ``job.json`` records for resume / overwrite;
- :mod:`.stats`: budget checks, mean +- std summaries and targets;
- :mod:`.report`: ``results.json`` / ``.md`` / ``.png``;
- :mod:`.harness`: the whole benchmark (:func:`run_benchmark`).
"""
from .config_edit import finetune_cfg, pretrain_cfg
from .data import brain_fraction_manifest, prepare_data
from .harness import Settings, run_benchmark
from .jobs import Jobs, job_commands, run_commands, run_job
from .report import markdown, plot, write_reports
from .stats import (check_equal_budgets, check_equal_finetune_iters,
                    summarise, targets)
from .tables import (BRAIN, KVASIR, KVASIR_PAPER, PAPER, QUICK, SCALES, TASKS,
                     plan, task_table)

__all__ = [
    'BRAIN', 'KVASIR', 'QUICK', 'TASKS', 'KVASIR_PAPER', 'PAPER', 'SCALES',
    'task_table', 'plan', 'prepare_data', 'brain_fraction_manifest',
    'pretrain_cfg', 'finetune_cfg', 'Jobs', 'run_job', 'job_commands',
    'run_commands', 'check_equal_budgets', 'check_equal_finetune_iters',
    'summarise', 'targets', 'markdown', 'plot', 'write_reports', 'Settings',
    'run_benchmark'
]
