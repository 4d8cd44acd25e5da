"""The asyncio engine's worker pool: grows past its soft limit only when its workers are blocked."""
from __future__ import annotations

import threading

from mocktools.worker_pool import WorkerPool


def test_blocked_workers_get_company_and_shutdown_joins_them() -> None:
    before = threading.active_count()
    pool = WorkerPool("t", soft_limit=2, starve_after=0.001)
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocked() -> None:
        started.release()
        release.wait(10)

    for _ in range(6):  # six blocking tasks: two threads at once, then the watchdog adds the rest
        pool.submit(blocked)
    for _ in range(6):
        assert started.acquire(timeout=5), "a blocked pool did not grow"
    assert pool.size >= 6
    release.set()
    pool.shutdown(5)
    assert threading.active_count() <= before


def test_tasks_run_in_order_of_submission_on_one_idle_worker() -> None:
    pool = WorkerPool("t", soft_limit=1)
    seen: list[int] = []
    done = threading.Event()
    for i in range(50):
        pool.submit(seen.append, i)
    pool.submit(done.set)
    assert done.wait(5) and seen == list(range(50)) and pool.size == 1
    pool.shutdown(5)
