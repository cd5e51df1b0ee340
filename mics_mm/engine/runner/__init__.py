"""The registered runner and the start-up checks it runs."""
from .config_check import UsageError, check_config_keys
from .launch import (ALLOW_CPU_ENV, DeviceUnusableError,
                     adapt_cfg_for_cpu_distributed, cpu_run_allowed,
                     finish_distributed, init_cpu_distributed)
from .runner import SafeRunner
from .work_dir import check_work_dir, existing_checkpoints

__all__ = [
    'ALLOW_CPU_ENV', 'DeviceUnusableError', 'SafeRunner', 'UsageError',
    'adapt_cfg_for_cpu_distributed', 'check_config_keys', 'check_work_dir',
    'cpu_run_allowed', 'existing_checkpoints', 'finish_distributed',
    'init_cpu_distributed'
]
