"""Shared pytest set-up: quiet mmengine's per-parameter init logging."""
import logging

import pytest
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import mics_mm  # noqa: F401


@pytest.fixture(autouse=True)
def _mmpretrain_scope_and_quiet_logs():
    """Build in mics_mm's scope (as the configs do), with quiet logs."""
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)
    with DefaultScope.overwrite_default_scope('mics_mm'):
        yield
