"""A 52-service mesh (103 instances) through real HTTP: traces, fan-out, failures, scaling, bad headers.

The mesh starts once for the module; each test leaves it as it found it.
"""

import threading

import pytest
import requests

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.propagation import TraceContext, extract, inject
from mocktools.mesh.topology import layered_spec
from mocktools.otlp import MockOTLPCollector

CHECKOUT_HOPS = [("gateway", "/checkout"), *[(f"api-{i}", "/") for i in range(4)],
                 *[(f"mid-{k}", "/") for k in range(8)], ("db", "/query"), ("audit", "/log")]


@pytest.fixture(scope="module")
def mesh():
    with MockServiceMesh(layered_spec(52)) as m:
        yield m


@pytest.fixture()
def client():
    with requests.Session() as s:
        yield s


def checkout(mesh, client, headers=None):
    return client.get(mesh.url_of("gateway") + "/checkout", headers=headers, timeout=10)


def test_fifty_plus_services_each_on_its_own_port(mesh):
    assert len(mesh.spec.services) == 52
    ports = {i.port for group in mesh.instances.values() for i in group}
    assert len(ports) == 103 and mesh.port not in ports
    assert all(i.running for group in mesh.instances.values() for i in group)
    assert len(mesh.registry.catalog_services()) == 52
    assert [e.id for e in mesh.discover("db")] == [i.instance_id for i in mesh.instances["db"]]


def test_complete_trace_across_hops_with_fanout(mesh, client):
    r = checkout(mesh, client)
    assert r.status_code == 200
    body = r.json()
    assert [c["service"] for c in body["calls"]] == ["api-0", "api-1", "api-2", "api-3", "audit"]
    assert body["calls"][0]["body"]["calls"][0]["body"]["calls"][0]["body"]["calls"][0]["service"] == "db"
    tid = body["trace_id"]
    report = mesh.wait_for_trace(tid, CHECKOUT_HOPS, timeout=10)
    assert report.complete, (report.orphans, report.missing)
    servers = mesh.spans.spans(tid, kind="server")
    assert len(servers) == 30 and {s.trace_id for s in mesh.trace(tid)} == {tid}
    (root,) = mesh.trace_tree(tid)
    assert root.span.service == "gateway" and root.span.parent_span_id is None
    assert len([c for c in root.children if c.span.kind == "client"]) == 5  # 4-way fan-out + async
    # gateway -> api -> mid -> leaf -> db: 5 server hops, each under a client span
    assert root.depth() == 9
    assert r.headers["traceresponse"].split("-")[1] == tid


def test_incoming_context_continued_and_parent_ids_distinct(mesh, client):
    caller = TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1, (("congo", "t61rcWkgMzE"),))
    r = client.get(mesh.url_of("gateway") + "/deep", headers=inject(caller), timeout=10)
    assert r.status_code == 200 and r.json()["trace_id"] == caller.trace_id
    report = mesh.wait_for_trace(caller.trace_id, [("db", "/query")])
    assert report.complete and report.roots[0].parent_span_id == caller.span_id
    spans = mesh.trace(caller.trace_id)
    assert len({s.span_id for s in spans}) == len(spans)
    assert len([s for s in spans if s.kind == "server"]) == 5  # gateway, api, mid, leaf, db
    db_calls = [c for i in mesh.instances["db"] for c in i.calls if extract(c.headers).context and
                extract(c.headers).context.trace_id == caller.trace_id]
    assert db_calls and extract(db_calls[0].headers).context.tracestate == caller.tracestate


def test_b3_incoming_context_accepted(mesh, client):
    tid, sid = "80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1"
    r = client.get(mesh.url_of("gateway") + "/", headers={"b3": f"{tid}-{sid}-1"}, timeout=10)
    assert r.json()["trace_id"] == tid and mesh.trace(tid)[0].parent_span_id == sid


@pytest.mark.parametrize("headers", [
    {"traceparent": "00-00000000000000000000000000000000-b7ad6b7169203331-01", "tracestate": "a=1"},
    {"traceparent": "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"},
    {"traceparent": "garbage"},
])
def test_invalid_trace_context_restarts_and_is_recorded(mesh, client, headers):
    before = len(mesh.context_events())
    r = client.get(mesh.url_of("gateway") + "/", headers=headers, timeout=10)
    assert r.status_code == 200
    tid = r.json()["trace_id"]
    assert tid not in headers["traceparent"].lower()
    events = mesh.context_events()[before:]
    assert len(events) == 1 and events[0].service == "gateway" and events[0].new_trace_id == tid
    assert events[0].error and events[0].headers["traceparent"] == headers["traceparent"]
    assert mesh.trace(tid)[0].events[0].name == "context.invalid"


def test_round_robin_over_instances(mesh, client):
    seen = set()
    for _ in range(6):
        r = client.get(mesh.url_of("api-1") + "/", timeout=10)
        seen.update(c["instance"] for c in r.json()["calls"])
    assert seen == {i.instance_id for k in (2, 3) for i in mesh.instances[f"mid-{k}"]}


def test_leaf_failure_propagates_to_the_edge(mesh, client):
    dbs = mesh.instances["db"]
    for inst in dbs:
        inst.set_permanent_failure(status=503)
    try:
        r = checkout(mesh, client)
        assert r.status_code == 502
        body = r.json()
        assert body["error"]["type"] == "dependency_failed" and "api-0/" in body["error"]["message"]
        leaf = body["calls"][0]["body"]["calls"][0]["body"]["calls"][0]["body"]
        assert leaf["calls"][0]["status"] == 503 and leaf["error"]["code"] == 502
        assert mesh.trace(body["trace_id"]) and any(s.status == "error" for s in mesh.trace(body["trace_id"]))
    finally:
        for inst in dbs:
            inst.set_success()
    assert checkout(mesh, client).status_code == 200


def test_unhealthy_instances_skipped_then_none_left(mesh, client):
    a, b = mesh.instances["leaf-3"]
    mesh.set_instance_health(a.instance_id, "critical")
    try:
        assert [e.id for e in mesh.discover("leaf-3")] == [b.instance_id]
        for _ in range(3):
            r = client.get(mesh.url_of("mid-3") + "/", timeout=10)
            assert r.status_code == 200 and r.json()["calls"][0]["instance"] == b.instance_id
        mesh.set_instance_health(b.instance_id, "critical")
        r = client.get(mesh.url_of("mid-3") + "/", timeout=10)
        assert r.status_code == 502 and r.json()["calls"][0]["error"] == "no healthy instance of leaf-3"
    finally:
        mesh.set_instance_health(a.instance_id, "passing")
        mesh.set_instance_health(b.instance_id, "passing")


@pytest.mark.timeout(60)
def test_scaling_while_traffic_flows(mesh):
    stop = threading.Event()
    statuses: list[int] = []

    def traffic():
        with requests.Session() as s:
            for _ in range(400):
                if stop.is_set():
                    break
                statuses.append(s.get(mesh.url_of("mid-5") + "/", timeout=10).status_code)

    t = threading.Thread(target=traffic)
    t.start()
    try:
        for n in (4, 1, 3, 2):
            ids = mesh.scale("leaf-5", n)
            assert len(ids) == n and len(mesh.discover("leaf-5")) == n
    finally:
        stop.set()
        t.join(30)
    assert statuses and set(statuses) == {200}
    assert len(mesh.instances["leaf-5"]) == 2


def test_spans_exported_to_otlp_collector(mesh, client):
    r = checkout(mesh, client)
    tid = r.json()["trace_id"]
    assert mesh.wait_for_trace(tid, CHECKOUT_HOPS).complete
    with MockOTLPCollector() as collector:
        sent = mesh.export_otlp(collector.url, tid)
        assert sent == len(mesh.trace(tid)) == 59
        got = collector.get_spans(trace_id=tid)
        assert len(got) == sent
        assert {s.span_id for s in got} == {s.span_id for s in mesh.trace(tid)}
        trace = collector.get_trace(tid)
        assert len(trace.roots) == 1
