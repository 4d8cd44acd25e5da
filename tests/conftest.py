"""Shared test helpers."""
from __future__ import annotations

import gc
import os
import threading

import pytest


def open_fds() -> int:
    """Open file descriptors of this process, after collecting garbage sockets of earlier tests."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def thread_baseline() -> int:
    return threading.active_count()

# mocktools' own plugin loads through its pytest11 entry point, exactly as users get it. The report
# plugin is loaded here instead (its entry point is disabled in setup.cfg) so the suite does not
# depend on whether the installed metadata already lists it.
pytest_plugins = ["mocktools.visual.pytest_report"]
