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
