"""The Teraslice master's HTTP API over a real socket: routes, paging, filters, actions, errors."""
from __future__ import annotations

from typing import Iterator

import pytest
import requests

from mocktools.clock import FakeClock
from mocktools.teraslice import MockTerasliceServer

START = 1_700_000_000.0
OPS = [{"_op": "elasticsearch_reader"}, {"_op": "noop"}]


@pytest.fixture
def mock() -> Iterator[MockTerasliceServer]:
    with MockTerasliceServer(clock=FakeClock(START), seed=42, jobs=40,
                             lifecycle_events=False) as server:
        yield server


@pytest.fixture
def http(mock: MockTerasliceServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get(http: requests.Session, mock: MockTerasliceServer, path: str, status: int = 200):
    r = http.get(mock.url + path)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    return r


def post(http: requests.Session, mock: MockTerasliceServer, path: str, status: int = 200, **kw):
    r = http.post(mock.url + path, **kw)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    return r.json()


def error_of(r: requests.Response) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"error", "message"} and body["error"] == r.status_code
    return body["error"], body["message"]


def test_info_and_both_prefixes(mock, http) -> None:
    for path in ("/", "/v1", "/v1/"):
        body = get(http, mock, path).json()
        assert body["clustering_type"] == "native" and body["teraslice_version"] == "v3.18.0"
    for path in ("/cluster/state", "/cluster/controllers", "/jobs", "/ex"):
        assert get(http, mock, path).json() == get(http, mock, "/v1" + path).json()
    r = get(http, mock, "/v1/jobs?size=1")
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.text.startswith("[\n    {\n        \"")


def test_paging_and_default_sort(mock, http) -> None:
    every = get(http, mock, "/v1/ex?size=10000").json()
    assert len(every) == len(mock.cluster.executions)
    assert [e["_updated"] for e in every] == sorted((e["_updated"] for e in every), reverse=True)
    assert len(get(http, mock, "/v1/ex").json()) == min(100, len(every))
    page = get(http, mock, "/v1/ex?size=5&from=3").json()
    assert [e["ex_id"] for e in page] == [e["ex_id"] for e in every[3:8]]
    assert get(http, mock, "/v1/ex?size=0").json() == []
    asc = get(http, mock, "/v1/jobs?size=1000&sort=_created:asc").json()
    assert [j["_created"] for j in asc] == sorted(j["_created"] for j in asc)
    by_name = get(http, mock, "/v1/jobs?size=1000&sort=name:desc").json()
    assert [j["name"] for j in by_name] == sorted((j["name"] for j in by_name), reverse=True)


def test_filters_status_active_deleted_and_lucene(mock, http) -> None:
    running = get(http, mock, "/v1/ex?size=1000&status=running").json()
    assert running and {e["_status"] for e in running} == {"running"}
    several = get(http, mock, "/v1/ex?size=1000&status=running,%20stopped").json()
    assert {e["_status"] for e in several} <= {"running", "stopped"}
    assert len(several) > len(running)
    jobs = get(http, mock, "/v1/jobs?size=1000").json()
    inactive = get(http, mock, "/v1/jobs?size=1000&active=false").json()
    active = get(http, mock, "/v1/jobs?size=1000&active=true").json()
    assert all(j["active"] is False for j in inactive)
    assert all(j.get("active", True) is not False for j in active)
    assert len(active) + len(inactive) == len(jobs)
    lucene = get(http, mock, "/v1/ex?size=1000&filter=_status:running%20OR%20_status:paused").json()
    assert {e["_status"] for e in lucene} <= {"running", "paused"}
    assert len(lucene) >= len(running)
    job = jobs[0]
    ex = get(http, mock, f"/v1/ex?size=1000&filter=job_id:%22{job['job_id']}%22").json()
    assert all(e["job_id"] == job["job_id"] for e in ex)
    with_ex = get(http, mock, "/v1/jobs?size=3&ex=_status,ex_id").json()
    assert all(set(j["ex"]) <= {"_status", "ex_id"} for j in with_ex)
    one = get(http, mock, f"/v1/jobs/{job['job_id']}?ex=_status").json()
    assert "ex" in one
    assert get(http, mock, "/v1/jobs?deleted=true").json() == []
    assert len(get(http, mock, "/v1/jobs?size=1000&deleted=").json()) == len(jobs)


def test_records_jobs_executions_controllers(mock, http) -> None:
    ex = get(http, mock, "/v1/ex?size=1&status=running").json()[0]
    assert get(http, mock, f"/v1/ex/{ex['ex_id']}").json() == ex
    job = get(http, mock, f"/v1/jobs/{ex['job_id']}").json()
    assert job["_context"] == "job" and job["name"] == ex["name"]
    latest = get(http, mock, f"/v1/jobs/{ex['job_id']}/ex").json()
    assert latest["ex_id"] == ex["ex_id"]
    (ctl,) = get(http, mock, f"/v1/ex/{ex['ex_id']}/controller").json()
    assert ctl["ex_id"] == ex["ex_id"] and ctl["started"].endswith("Z")
    assert get(http, mock, f"/v1/jobs/{ex['job_id']}/controller").json()[0]["ex_id"] == ex["ex_id"]
    assert get(http, mock, f"/v1/ex/{ex['ex_id']}/slicer").json()[0]["ex_id"] == ex["ex_id"]
    ctls = get(http, mock, "/v1/cluster/controllers").json()
    assert ex["ex_id"] in {c["ex_id"] for c in ctls}
    assert [(c["name"], c["started"]) for c in ctls] == sorted(
        ((c["name"], c["started"]) for c in ctls), reverse=True)
    stats = get(http, mock, "/v1/cluster/stats").json()
    assert stats["controllers"]["processed"] == sum(c["processed"] for c in ctls)
    assert stats["slicer"] == stats["controllers"]
    state = get(http, mock, "/v1/cluster/state").json()
    assert set(state) == {n.node_id for n in mock.cluster.nodes}


def test_unknown_ids_and_routes_get_the_real_error_shape(mock, http) -> None:
    assert error_of(get(http, mock, "/v1/jobs/nope", 404)) == (404, "Not Found")
    assert error_of(get(http, mock, "/v1/ex/nope", 404)) == (404, "Not Found")
    assert error_of(get(http, mock, "/v1/jobs/nope/ex", 404))[1] == "No execution was found for job nope"
    msg = error_of(get(http, mock, "/v1/ex/nope/controller", 404))[1]
    assert msg == "Could not find active slicer for ex_id: nope"
    assert error_of(get(http, mock, "/v1/nope?x=1", 405))[1] == "cannot GET endpoint /v1/nope?x=1"
    r = http.delete(mock.url + "/v1/cluster/state")
    assert error_of(r) == (405, "cannot DELETE endpoint /v1/cluster/state")
    r = http.post(mock.url + "/")
    assert r.status_code == 405
    assert error_of(get(http, mock, "/v1/ex?size=abc", 500))[1] == "size parameter must be a integer, got abc"
    assert error_of(get(http, mock, "/v1/jobs?from=1.5", 500))[1] == "from parameter must be a integer, got 1.5"
    assert "Result window is too large" in error_of(get(http, mock, "/v1/ex?size=10001", 400))[1]
    assert error_of(get(http, mock, "/v1/ex?size=-1", 400))[0] == 400
    assert "No mapping found for [bogus]" in error_of(get(http, mock, "/v1/ex?sort=bogus", 400))[1]
    assert "Failed to parse query" in error_of(get(http, mock, "/v1/ex?filter=(a:b", 400))[1]
    assert error_of(get(http, mock, "/v1/jobs?deleted=maybe", 400))[1] == \
        "deleted query option must true or false"
    mock.check()


def test_job_actions_follow_valid_transitions(mock, http) -> None:
    created = post(http, mock, "/v1/jobs", json={"name": "wire", "workers": 3, "operations": OPS})
    job_id, ex_id = created["job_id"], created["ex_id"]
    assert get(http, mock, f"/v1/ex/{ex_id}").json()["_status"] == "pending"
    r = http.post(mock.url + f"/v1/jobs/{job_id}/_pause")
    assert error_of(r) == (500, f"Execution {ex_id} is not available to pause")
    mock.advance(13)
    assert post(http, mock, f"/v1/jobs/{job_id}/_pause") == {"status": "paused"}
    assert post(http, mock, f"/v1/ex/{ex_id}/_resume") == {"status": "running"}
    msg = post(http, mock, f"/v1/jobs/{job_id}/_workers?add=2")["message"]
    assert msg == f"2 workers have been added for execution: {ex_id}"
    assert post(http, mock, f"/v1/ex/{ex_id}/_workers?total=4")["message"].startswith("4 workers")
    for bad in ("", "?add=x", "?remove=-1", "?add=1.5", "?other=1"):
        r = http.post(mock.url + f"/v1/ex/{ex_id}/_workers{bad}")
        assert error_of(r)[0] == 400
    assert post(http, mock, f"/v1/jobs/{job_id}/_settings?log_level=debug") == \
        {"exId": ex_id, "level": "debug"}
    assert error_of(http.post(mock.url + f"/v1/jobs/{job_id}/_settings?log_level=x"))[0] == 400
    r = http.post(mock.url + f"/v1/jobs/{job_id}/_start")
    assert error_of(r)[0] == 409
    before = mock.cluster.clock.time()
    assert post(http, mock, f"/v1/jobs/{job_id}/_stop") == {"status": "stopped"}
    assert mock.cluster.clock.time() - before == pytest.approx(60.0)
    assert post(http, mock, f"/v1/ex/{ex_id}/_stop") == {"status": "stopped"}
    r = http.post(mock.url + f"/v1/ex/{ex_id}/_resume")
    assert error_of(r)[1] == f"no active execution context was found for ex_id: {ex_id}"
    again = post(http, mock, f"/v1/jobs/{job_id}/_start")
    assert post(http, mock, f"/v1/ex/{again['ex_id']}/_stop?blocking=false") == {"status": "stopping"}
    forced = post(http, mock, f"/v1/ex/{again['ex_id']}/_stop?force=true")
    assert forced == {"message": f"Force stop complete for exId {again['ex_id']}", "status": "stopped"}
    rec = post(http, mock, f"/v1/jobs/{job_id}/_recover?cleanup_type=errors")
    assert get(http, mock, f"/v1/ex/{rec['ex_id']}").json()["recovered_execution"] == again["ex_id"]
    assert error_of(http.post(mock.url + f"/v1/jobs/{job_id}/_recover?cleanup=bogus"))[0] == 400
    post(http, mock, f"/v1/ex/{rec['ex_id']}/_stop?force=true")
    rec2 = post(http, mock, f"/v1/ex/{rec['ex_id']}/_recover")
    assert rec2["job_id"] == job_id
    assert post(http, mock, f"/v1/jobs/{job_id}/_inactive")["active"] is False
    assert post(http, mock, f"/v1/jobs/{job_id}/_active")["active"] is True
    r = http.delete(mock.url + f"/v1/jobs/{job_id}")
    assert error_of(r)[0] == 409
    post(http, mock, f"/v1/jobs/{job_id}/_stop?force=true")
    assert http.delete(mock.url + f"/v1/jobs/{job_id}").json()["_deleted"] is True
    assert job_id in {j["job_id"] for j in get(http, mock, "/v1/jobs?deleted=true").json()}
    assert error_of(http.post(mock.url + "/v1/jobs/nope/_stop")) == \
        (404, "No execution was found for job nope")
    mock.check()


def test_put_and_post_jobs_validate_bodies(mock, http) -> None:
    stored = post(http, mock, "/v1/jobs?start=false", json={"name": "s", "operations": OPS})
    assert set(stored) == {"job_id"}
    updated = http.put(mock.url + f"/v1/jobs/{stored['job_id']}",
                       json={"name": "s2", "operations": OPS}).json()
    assert updated["name"] == "s2"
    r = http.put(mock.url + f"/v1/jobs/{stored['job_id']}", json={})
    assert error_of(r)[1] == f"no data was provided to update job {stored['job_id']}"
    r = http.post(mock.url + "/v1/jobs", data=b"{not json", headers={"Content-Type": "application/json"})
    assert error_of(r) == (400, "the json submitted is malformed")
    r = http.post(mock.url + "/v1/jobs", data=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert error_of(r) == (400, "No job was posted")
    r = http.post(mock.url + "/v1/jobs", data=b"name=x", headers={"Content-Type": "text/plain"})
    assert error_of(r) == (400, "No job was posted")
    r = http.post(mock.url + "/v1/jobs", data={"name": "x"})
    assert error_of(r) == (400, "No job was posted")
    r = http.post(mock.url + "/v1/jobs", json={"operations": OPS, "job_id": "mine"})
    assert error_of(r) == (422, "Job cannot include a job_id on submit")
    r = http.post(mock.url + "/v1/jobs", data=b"", headers={"Content-Type": "application/json"})
    assert error_of(r) == (400, "No job was posted")
    mock.check()


def test_hostile_and_oversized_input_keep_the_server_serving(mock, http) -> None:
    calls_before = mock.get_call_count()
    r = http.post(mock.url + "/v1/jobs", data=b"x" * (mock.max_body_bytes + 10),
                  headers={"Content-Type": "application/json"})
    assert error_of(r)[0] == 413
    deep = "[" * 5000 + "]" * 5000
    r = http.post(mock.url + "/v1/jobs", data=deep.encode(), headers={"Content-Type": "application/json"})
    assert error_of(r)[0] == 400
    r = http.get(mock.url + "/v1/ex", params={"filter": "(" * 3000 + "a:b" + ")" * 3000})
    assert error_of(r)[0] == 400
    r = http.get(mock.url + "/v1/ex", params={"filter": "NOT " * 2000 + "a:b"})
    assert r.status_code in (200, 400)
    r = http.get(mock.url + "/v1/ex", params={"filter": "name:\u00e9\u6f22*", "sort": "name"})
    assert r.status_code == 200 and r.json() == []
    r = http.get(mock.url + "/v1/jobs/%00%ff")
    assert error_of(r)[0] == 404
    assert get(http, mock, "/v1/ex?size=1").json()
    assert mock.get_call_count() >= calls_before + 6
    mock.check()


def test_injected_faults_use_the_teraslice_error_shape(mock, http) -> None:
    mock.set_failure_count(1, status=503)
    r = http.get(mock.url + "/v1/ex")
    assert error_of(r)[0] == 503
    assert get(http, mock, "/v1/ex?size=1").status_code == 200


def test_txt_tables(mock, http) -> None:
    ex = get(http, mock, "/txt/ex?size=3")
    assert ex.headers["Content-Type"] == "text/html; charset=utf-8"
    lines = ex.text.split("\n")
    assert lines[0].split() == ["name", "lifecycle", "slicers", "workers", "_status", "ex_id",
                                "job_id", "_created", "_updated"]
    assert set(lines[1].replace(" ", "")) == {"-"} and len(lines) == 3 + 2 + 1
    jobs = get(http, mock, "/txt/jobs?fields=job_id,name&headers=false&size=1000").text
    assert len(jobs.splitlines()) == len(mock.cluster.jobs)
    assert "_deleted_on" in get(http, mock, "/txt/jobs?deleted=true").text
    assert get(http, mock, "/txt/ex?deleted=true").text.splitlines()[0].split()[-1] == "_deleted_on"
    nodes = get(http, mock, "/txt/nodes").text.splitlines()
    assert len(nodes) == 2 + len(mock.cluster.nodes)
    workers = get(http, mock, "/txt/workers?size=5").text.splitlines()
    assert workers[0].split() == ["assignment", "job_id", "ex_id", "node_id", "pid"]
    assert len(workers) == 2 + 5
    assert get(http, mock, "/txt/controllers").text == get(http, mock, "/txt/slicers").text
    empty = get(http, mock, "/txt/jobs?filter=name:none").text
    assert empty.count("\n") == 3


def test_refresh_openapi_docs_and_admin_controls(mock, http) -> None:
    ids = sorted(mock.cluster.executions)
    out = post(http, mock, "/v1/data/refresh")
    assert out["counts"]["execution_contexts"] == len(ids) and sorted(mock.cluster.executions) == ids
    other = post(http, mock, "/v1/data/refresh?seed=7&jobs=5")
    assert other["seed"] == 7 and other["counts"]["jobs"] == 5
    assert error_of(http.post(mock.url + "/v1/data/refresh?seed=x"))[0] == 400
    assert error_of(http.post(mock.url + "/v1/data/refresh?jobs=999999"))[0] == 400
    spec = get(http, mock, "/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/v1/ex" in spec["paths"]
    docs = get(http, mock, "/docs").text
    assert "/openapi.json" in docs and "http" not in docs.replace("http-equiv", "")
    adv = http.post(mock.url + "/_mock/teraslice/advance", json={"seconds": 30}).json()
    assert adv["ok"] and mock.cluster.clock.time() == START + 30
    for bad in (-1, "NaN", 1e12, "x"):
        r = http.post(mock.url + "/_mock/teraslice/advance", json={"seconds": bad})
        assert r.status_code == 400, bad
    assert mock.cluster.clock.time() == START + 30
    assert http.post(mock.url + "/_mock/teraslice/cluster-size", json={"nodes": 2}).json()["nodes"] == 2
    assert http.post(mock.url + "/_mock/teraslice/cluster-size", json={}).status_code == 400
    added = http.post(mock.url + "/_mock/teraslice/jobs", json={"name": "ctl", "workers": 2}).json()
    st = http.post(mock.url + "/_mock/teraslice/status",
                   json={"ex_id": added["ex_id"], "status": "stopping"}).json()
    assert st == {"ok": True, "status": "stopping"}
    bad = http.post(mock.url + "/_mock/teraslice/status",
                    json={"ex_id": added["ex_id"], "status": "running"})
    assert bad.status_code == 422
    assert http.post(mock.url + "/_mock/teraslice/status", json={"ex_id": "x", "status": "running"}).status_code == 404
    assert http.post(mock.url + "/_mock/teraslice/jobs", json={"workers": 0}).status_code == 400
    state = http.get(mock.url + "/_mock/state").json()
    assert state["seed"] == 7 and state["executions"] == len(mock.cluster.executions)
    mock.reset()
    assert mock.cluster.seed == 7 and len(mock.cluster.jobs) == 5


def test_pytest_plugin_fixture_and_real_clock(mock_teraslice: MockTerasliceServer) -> None:
    r = requests.get(mock_teraslice.url + "/v1/ex?size=1000")
    assert r.status_code == 200 and len(r.json()) == len(mock_teraslice.cluster.executions)
    with pytest.raises(TypeError):
        mock_teraslice.advance(1)


def test_cli_flags_build_the_mock() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    MockTerasliceServer.cli_arguments(parser)
    args = parser.parse_args(["--jobs", "12", "--nodes", "2"])
    server = MockTerasliceServer.from_cli(args, host="127.0.0.1", port=0, seed=3)
    assert len(server.cluster.jobs) == 12 and len(server.cluster.nodes) == 2
    assert server.cluster.seed == 3


def test_python_controls(mock: MockTerasliceServer) -> None:
    out = mock.add_job({"name": "py", "workers": 3})
    assert mock.cluster.executions[out["ex_id"]].status == "pending"
    mock.advance(13)
    assert mock.force_status(out["ex_id"], "paused") == "paused"
    mock.set_cluster_size(5)
    assert len(mock.cluster.nodes) == 5
    stored = mock.add_job(start=False)
    assert set(stored) == {"job_id"}
    mock.regenerate(seed=1, jobs=3)
    assert len(mock.cluster.jobs) == 3


@pytest.mark.timeout(60)
def test_concurrent_clients_while_time_moves(mock: MockTerasliceServer) -> None:
    import threading

    paths = ["/v1/ex?size=1000", "/v1/cluster/controllers", "/v1/jobs?size=1000",
             "/txt/workers?size=50", "/v1/cluster/state", "/v1/ex?status=running&sort=name"]
    failures: list[str] = []
    stop = threading.Event()

    def client(i: int) -> None:
        with requests.Session() as session:
            n = 0
            while n < 40:
                path = paths[(i + n) % len(paths)]
                r = session.get(mock.url + path)
                if r.status_code != 200:
                    failures.append(f"{path} {r.status_code}")
                if path.startswith("/v1/ex?size"):
                    ex = r.json()
                    if ex and ex[0]["_status"] not in ("completed", "stopped", "failed",
                                                       "terminated", "rejected"):
                        session.post(mock.url + f"/v1/ex/{ex[0]['ex_id']}/_workers?add=1")
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    mock.cluster.lifecycle_events = True
    advanced = 0
    while any(t.is_alive() for t in threads):
        mock.advance(30)
        advanced += 1
    stop.set()
    assert advanced > 10
    for t in threads:
        t.join()
    assert failures == []
    mock.check()


def test_every_documented_get_endpoint_is_served(mock, http) -> None:
    from mocktools.teraslice.openapi import ENDPOINTS

    ex = get(http, mock, "/v1/ex?size=1&status=running").json()[0]
    for method, path, _summary, _params in ENDPOINTS:
        if method != "get":
            continue
        url = path.replace("{job_id}", ex["job_id"]).replace("{ex_id}", ex["ex_id"])
        r = http.get(mock.url + url)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
    spec_paths = set(get(http, mock, "/openapi.json").json()["paths"])
    assert {p for _, p, _, _ in ENDPOINTS} == spec_paths


def test_slice_error_endpoints(mock, http) -> None:
    errors = get(http, mock, "/v1/ex/errors?size=200").json()
    assert errors and all(e["state"] == "error" for e in errors)
    times = [e["_updated"] for e in errors]
    assert times == sorted(times, reverse=True)
    ex_id = errors[0]["ex_id"]
    ex = get(http, mock, f"/v1/ex/{ex_id}").json()
    mine = get(http, mock, f"/v1/ex/{ex_id}/errors?size=10000").json()
    failed = mock.cluster.executions[ex_id].controller_stats(mock.cluster.clock.time())["failed"]
    assert len(mine) == min(failed, 10000) and {e["ex_id"] for e in mine} == {ex_id}
    latest = get(http, mock, f"/v1/jobs/{ex['job_id']}/ex").json()
    by_job = get(http, mock, f"/v1/jobs/{ex['job_id']}/errors?size=5").json()
    assert all(e["ex_id"] == latest["ex_id"] for e in by_job)
    asc = get(http, mock, f"/v1/ex/{ex_id}/errors?size=5&sort=_created:asc").json()
    assert [e["_created"] for e in asc] == sorted(e["_created"] for e in asc)
    filtered = get(http, mock, f"/v1/ex/errors?size=50&filter=ex_id:%22{ex_id}%22").json()
    assert {e["ex_id"] for e in filtered} == {ex_id}
    assert get(http, mock, "/v1/ex/nope/errors").json() == []
    assert error_of(get(http, mock, "/v1/jobs/nope/errors", 404))[0] == 404
    assert error_of(get(http, mock, "/v1/ex/errors?sort=slice_id", 400))[0] == 400
    assert error_of(get(http, mock, "/v1/ex/errors?filter=(x", 400))[0] == 400
