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

# The plugin is loaded here, not through its pytest11 entry point (disabled in setup.cfg), so that
# coverage is already measuring when mocktools is first imported.
pytest_plugins = ["mocktools.pytest_plugin", "mocktools.visual.pytest_report"]


@pytest.fixture(params=["asyncio", "werkzeug"])
def each_http_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per HTTP engine: every mock it builds picks the engine from the env var."""
    from mocktools.http_engines import ENGINE_ENV

    monkeypatch.setenv(ENGINE_ENV, request.param)
    return str(request.param)
