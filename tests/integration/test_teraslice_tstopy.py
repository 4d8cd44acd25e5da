"""ts-topy's own client, pydantic models and display logic against the mock, for a simulated hour."""
from __future__ import annotations

from collections import Counter
from typing import Iterator

import httpx
import pytest
from ts_topy.app import TerasliceApp
from ts_topy.client import TerasliceClient
from ts_topy.cluster_selector import AddClusterModal
from ts_topy.models import ClusterState, Controller, ExecutionContext, Job

from mocktools.clock import FakeClock
from mocktools.teraslice import MockTerasliceServer
from mocktools.teraslice.states import RUNNING, TERMINAL


@pytest.fixture
def mock() -> Iterator[MockTerasliceServer]:
    with MockTerasliceServer(clock=FakeClock(), seed=2024, jobs=60) as server:
        yield server


def refresh(client: TerasliceClient) -> tuple[list[Controller], list[Job], list[ExecutionContext]]:
    """Exactly what ts-topy's fetch_data asks for on every refresh."""
    return (client.fetch_controllers(), client.fetch_jobs(size=1000),
            client.fetch_execution_contexts(size=1000))


@pytest.mark.timeout(120)
def test_client_reads_every_endpoint_for_a_simulated_hour(mock: MockTerasliceServer) -> None:
    statuses_seen: Counter[str] = Counter()
    last_processed: dict[str, int] = {}
    with TerasliceClient(mock.url, timeout=10) as client:
        elapsed = 0.0
        while elapsed <= 3600:
            controllers, jobs, executions = refresh(client)
            job_ids = {j.job_id for j in jobs}
            by_ex = {e.ex_id: e for e in executions}
            assert len(jobs) == len(mock.cluster.jobs)
            assert len(executions) == len(mock.cluster.executions)
            for e in executions:
                assert e.job_id in job_ids
                statuses_seen[e.status] += 1
                if e.status in TERMINAL and e.slicer_stats is not None:
                    assert e.slicer_stats.workers_active <= e.slicer_stats.workers_joined
            for ctl in controllers:
                ex = by_ex[ctl.ex_id]
                assert ex.status in RUNNING and ctl.job_id == ex.job_id and ctl.name == ex.name
                assert ctl.started is not None and ctl.started.tzinfo is not None
                assert ctl.workers_active <= ctl.workers_joined <= ex.workers
                assert ctl.processed >= last_processed.get(ctl.ex_id, 0)
                last_processed[ctl.ex_id] = ctl.processed
            # the detail modals: raw job and execution JSON
            sample = executions[int(elapsed) % len(executions)]
            assert client.fetch_execution_context_by_id(sample.ex_id)["ex_id"] == sample.ex_id
            assert client.fetch_job_by_id(sample.job_id)["job_id"] == sample.job_id
            step = 5.0 if elapsed < 300 else 120.0  # ts-topy polls every 5 s
            mock.advance(step)
            elapsed += step
    assert {"running", "stopped"} <= set(statuses_seen)
    assert any(s in statuses_seen for s in ("pending", "scheduling", "initializing"))
    assert len(mock.cluster.events) >= 3
    mock.check()


def test_paging_through_the_client(mock: MockTerasliceServer) -> None:
    with TerasliceClient(mock.url) as client:
        first = client.fetch_execution_contexts(size=10, from_=0)
        second = client.fetch_execution_contexts(size=10, from_=10)
        assert len(first) == 10 and not {e.ex_id for e in first} & {e.ex_id for e in second}
        assert len(client.fetch_jobs()) == min(100, len(mock.cluster.jobs))
        with pytest.raises(httpx.HTTPStatusError) as info:
            client.fetch_job_by_id("does-not-exist")
        assert info.value.response.json() == {"error": 404, "message": "Not Found"}


def test_cluster_state_parses_and_connection_test_passes(mock: MockTerasliceServer) -> None:
    ok, message = AddClusterModal._do_test_connection(None, mock.url)  # type: ignore[arg-type]
    assert ok, message
    state = httpx.get(f"{mock.url}/v1/cluster/state").json()
    cluster = ClusterState(nodes=state)
    assert cluster.total_nodes == len(mock.cluster.nodes)
    assert cluster.active_workers >= 2 and cluster.available_workers >= 0
    assert cluster.total_workers == sum(n.total for n in mock.cluster.nodes)


@pytest.mark.timeout(60)
def test_display_logic_running_count_and_sorting(mock: MockTerasliceServer) -> None:
    app = TerasliceApp(url=mock.url, interval=5, request_timeout=5)
    for _ in range(4):
        captured: list[tuple] = []
        app.call_from_thread = lambda fn, *args, captured=captured: captured.append((fn.__name__, args))  # type: ignore
        app.fetch_data()
        (name, args), = captured
        assert name == "update_display"
        info, ctl_rows, job_rows, ex_rows = args[:4]
        assert "Error" not in info, info
        with TerasliceClient(mock.url) as client:
            executions = client.fetch_execution_contexts(size=1000)
            controllers = client.fetch_controllers()
        running = sum(e.status == "running" for e in executions)
        assert f"[b]Running Jobs:[/b] {running}" in info
        assert f"[b]Controllers:[/b] {len(controllers)}" in info
        started = [row[2] for row in ctl_rows]
        assert started == sorted(started, reverse=True)
        assert len(ex_rows) == len(executions) and len(job_rows) == len(mock.cluster.jobs)
        updated = [row[9] for row in ex_rows]
        assert updated == sorted(updated, reverse=True)
        mock.advance(600)
    app.client.close()


@pytest.mark.timeout(60)
def test_the_real_tui_renders_the_mock_headless(mock: MockTerasliceServer) -> None:
    """ts-topy's Textual app itself (headless): tables and the cluster line match the mock."""
    import asyncio
    import time

    from textual.widgets import DataTable, Static

    def expected() -> tuple[int, int, int, int]:
        c = mock.cluster
        with c.lock:
            c.now()
            exs = list(c.executions.values())
            controllers = sum(ex.status in RUNNING for ex in exs)
            running = sum(ex.status == "running" for ex in exs)
            living = sum(ex.status not in TERMINAL for ex in exs)
            return controllers, len(c.jobs), running, living

    async def drive() -> None:
        app = TerasliceApp(url=mock.url, interval=3600, request_timeout=5)
        async with app.run_test(size=(200, 60)) as pilot:
            for _round in range(3):
                controllers, jobs, running, living = expected()
                want = (f"Controllers: {controllers}  Jobs: {jobs}  Running Jobs: {running}")
                deadline = time.monotonic() + 10  # the app fetches in a worker thread
                while time.monotonic() < deadline:
                    await pilot.pause(0.02)
                    if str(app.query_one("#cluster-info", Static).render()) == want:
                        break
                assert str(app.query_one("#cluster-info", Static).render()) == want
                assert app.query_one("#controllers-table", DataTable).row_count == controllers
                assert app.query_one("#jobs-table", DataTable).row_count == jobs
                # the default status filter shows the non-terminal executions
                assert app.query_one("#execution-contexts-table", DataTable).row_count == living
                mock.advance(900)
                await app.run_action("refresh")  # the `r` binding (a key press would type
                # into the focused filter input)

    asyncio.run(drive())
    mock.check()
