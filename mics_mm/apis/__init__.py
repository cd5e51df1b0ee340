"""Helpers that the command-line tools share (config edits, run files).

Tools import these from the package; no tool imports another tool.
"""
from .amp import enable_amp

__all__ = ['enable_amp']
