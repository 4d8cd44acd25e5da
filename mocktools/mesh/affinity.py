"""Keeping a mesh's own threads on one CPU (opt-in: `MockServiceMesh(cpu_affinity=...)`).

All instances share one process and one GIL, so the mesh never runs Python on two cores at once;
what a second core adds is hand-offs: every hop wakes a thread, which starts on the other core
and takes the GIL there, and on a 2-core machine that costs about half of a hop's CPU (measured
in bench/README.md: 2x the service requests per second with the mesh's threads on one core).
A thread's affinity is inherited by the threads it starts, so each instance is started from a
thread pinned first: its serving thread, its workers or connection threads and the fan-out
threads its handlers start all stay on that CPU. The caller's own threads are left alone.
"""
from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["resolve_cpu", "start_here", "start_pinned"]


def resolve_cpu(value: int | str | None) -> int | None:
    """None: no pinning; "auto": the last CPU this process may use; else that CPU number."""
    if value is None:
        return None
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError("cpu_affinity needs os.sched_setaffinity (Linux)")
    allowed = sorted(os.sched_getaffinity(0))
    if value == "auto":
        return allowed[-1]
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ValueError(f"cpu_affinity must be 'auto' or one of this process's CPUs {allowed}, got {value!r}")
    return value


def start_here(cpu: int | None, mock: Any) -> None:
    """`mock.start()` from this thread, pinned first: for a throwaway thread (the mesh's start pool)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # 0: this thread
    mock.start()


def start_pinned(cpu: int | None, mock: Any) -> None:
    """`mock.start()`, from a thread pinned to `cpu` when one is given (its threads inherit it)."""
    if cpu is None:
        mock.start()
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            os.sched_setaffinity(0, {cpu})  # 0: this thread
            mock.start()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="mesh-pinned-start", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
