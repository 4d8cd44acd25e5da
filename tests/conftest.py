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


@pytest.fixture(params=[pytest.param(("asyncio", "asyncio"), id="asyncio"),
                        pytest.param(("asyncio", "uvloop"), id="asyncio-uvloop"),
                        pytest.param(("werkzeug", None), id="werkzeug")])
def each_http_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per HTTP engine (the asyncio engine on the stdlib's loop and on uvloop):
    every mock it builds picks the engine and loop from the env vars. Returns the engine name."""
    from mocktools.aio_loop import LOOP_ENV
    from mocktools.http_engines import ENGINE_ENV

    engine, loop = request.param
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv(ENGINE_ENV, engine)
    if loop is not None:
        monkeypatch.setenv(LOOP_ENV, loop)
    return str(engine)
