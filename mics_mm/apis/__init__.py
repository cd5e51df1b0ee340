"""Helpers that the command-line tools share (config edits, run files).

Tools import these from the package; no tool imports another tool.
"""
from .amp import enable_amp
from .cli import LAUNCHERS, add_common_args, load_config

__all__ = ['LAUNCHERS', 'add_common_args', 'enable_amp', 'load_config']
