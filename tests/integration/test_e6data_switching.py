"""Blue/green switching, the 456 signal, session expiry and auto-resume, driven through the
unmodified e6data-python-connector. Time moves on a FakeClock: no test sleeps for a switch."""

import threading

import grpc
import pytest
from e6data_python_connector import Connection, e6data_grpc

from mocktools.clock import FakeClock
from mocktools.e6data import MockE6DataServer

from .test_e6data_client import connect, reset_client_strategy_cache


@pytest.fixture(autouse=True)
def clean_client():
    reset_client_strategy_cache()
    yield
    reset_client_strategy_cache()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def e6(clock):
    with MockE6DataServer(clock=clock, seed=11, strategy_interval=120, drain_timeout=60) as mock:
        yield mock


def run_query(conn, sql="select * from numbers", between=None):
    cur = conn.cursor()
    cur.execute(sql)
    if between:
        between()
    rows = cur.fetchall()
    cur.close()
    return rows


def client_active_strategy():
    return e6data_grpc._get_shared_strategy()["active_strategy"]


def codes(mock, method):
    return [c.meta["grpc_code"] for c in mock.calls if c.path.endswith("/" + method)]


def test_continuous_queries_across_several_switches_never_fail(e6, clock):
    conn = connect(e6)
    seen = []
    for i in range(24):
        # every 4th query has the switch announced while it runs; the others see time pass between
        mid = (lambda: clock.advance(130)) if i % 4 == 3 else None
        rows = run_query(conn, between=mid)
        assert rows == [[n, n * n] for n in range(1, 11)]
        seen.append(e6.queries()[-1].strategy)
        clock.advance(45)
    conn.close()
    assert e6.engine.strategy.switches >= 5
    assert set(seen) == {"blue", "green"}
    changes = sum(1 for a, b in zip(seen, seen[1:]) if a != b)
    assert changes >= 5
    kinds = [e.kind for e in e6.strategy_events]
    assert {"announced", "notified", "switched"} <= set(kinds)
    # the announced protocol needs no 456 at all: every query ran on a strategy the engine served
    assert e6.engine.strategy.rejections == 0
    assert all(r.status == "cleared" for r in e6.queries())


def test_in_flight_query_finishes_on_its_strategy(e6, clock):
    conn = connect(e6)
    cur = conn.cursor()
    cur.execute("select * from sales.orders")
    assert e6.queries()[-1].strategy == "blue"
    e6.switch_strategy()
    clock.advance(61)  # past the drain timeout: the engine switches with the blue query still open
    rows = cur.fetchall()  # its batches are still served on blue
    assert len(rows) == 100
    assert e6.active_strategy == "green"
    cur.close()
    assert run_query(conn)[0] == [1, 1]
    assert e6.queries()[-1].strategy == "green"
    batch_strategies = {c.headers["strategy"] for c in e6.calls if c.path.endswith("getNextResultBatch")}
    assert batch_strategies == {"blue", "green"}
    conn.close()


def test_unannounced_switch_gives_456_and_the_client_recovers(e6):
    conn = connect(e6)
    assert run_query(conn)
    e6.set_strategy("green")
    assert run_query(conn)  # 456 on prepare -> client clears its cache, re-authenticates, retries
    conn.close()
    assert "UNKNOWN" in codes(e6, "prepareStatement")
    rejected = [c for c in e6.calls if c.meta["grpc_code"] == "UNKNOWN"]
    assert rejected and all(c.headers["strategy"] == "blue" for c in rejected)
    assert client_active_strategy() == "green"
    assert e6.queries()[-1].strategy == "green"
    assert e6.engine.strategy.rejections >= 1


def test_456_details_are_exact(e6):
    from mocktools.e6data._generated import e6x_engine_pb2 as pb
    from mocktools.e6data._generated import e6x_engine_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{e6.port}") as channel:
        stub = e6x_engine_pb2_grpc.QueryEngineServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.authenticate(pb.AuthenticateRequest(user="u", password="p"), metadata=[("strategy", "green")])
        assert err.value.code() == grpc.StatusCode.UNKNOWN and err.value.details() == "status: 456"
        ok = stub.authenticate(pb.AuthenticateRequest(user="u", password="p"), metadata=[("strategy", "blue")])
        assert ok.sessionId and not ok.HasField("new_strategy")
        e6.switch_strategy()
        e6.engine.strategy.query_opened("blue")  # hold the switch open
        announced = stub.authenticate(pb.AuthenticateRequest(user="u", password="p"), metadata=[("strategy", "blue")])
        assert announced.new_strategy == "green"


def test_discovery_when_engine_starts_green(clock):
    with MockE6DataServer(clock=clock, initial_strategy="green", strategy_interval=None) as e6:
        conn = connect(e6)
        assert run_query(conn)
        conn.close()
        auth = [(c.headers["strategy"], c.meta["grpc_code"]) for c in e6.calls if c.path.endswith("authenticate")]
        assert auth == [("blue", "UNKNOWN"), ("green", "OK")]


def test_session_expiry_reauthenticates(e6, clock):
    e6.engine.session_ttl = 60
    conn = connect(e6)
    assert run_query(conn)
    clock.advance(61)
    assert run_query(conn)  # "Access denied" on prepare -> the client re-authenticates and retries
    e6.expire_sessions()
    assert run_query(conn)
    conn.close()
    assert codes(e6, "prepareStatement").count("INTERNAL") == 2
    assert codes(e6, "authenticate") == ["OK", "OK", "OK"]


def test_bad_credentials_are_refused(e6):
    e6.engine.credentials = {"alice": "right"}
    conn = connect(e6, username="alice", password="wrong")
    with pytest.raises(grpc.RpcError) as err:
        run_query(conn)
    assert err.value.code() == grpc.StatusCode.INTERNAL and "Access denied" in err.value.details()
    good = connect(e6, username="alice", password="right")
    assert run_query(good)
    good.close()


def test_auto_resume_of_a_suspended_cluster(e6):
    e6.suspend_cluster()
    conn = connect(e6)
    assert run_query(conn)  # authenticate -> 503 -> ClusterService status/resume -> retry
    conn.close()
    assert e6.cluster_status == "active"
    paths = [c.path for c in e6.calls]
    assert "/ClusterService/status" in paths and "/ClusterService/resume" in paths
    assert codes(e6, "authenticate")[0] == "UNAVAILABLE"
    status_call = next(c for c in e6.calls if c.path == "/ClusterService/status")
    assert status_call.headers["cluster-name"] == "mycluster" and status_call.headers["strategy"] == "blue"


def test_failed_resume_surfaces_the_503(e6):
    e6.suspend_cluster()
    e6.set_resume_behavior(fails=True)
    conn = connect(e6)
    with pytest.raises(grpc.RpcError) as err:
        run_query(conn)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "status: 503" in err.value.details()
    assert e6.cluster_status == "failed"


@pytest.mark.timeout(120)
def test_concurrent_clients_across_switches(e6, clock):
    """Three connections query without pause while the clock drives three switches."""
    errors, done, stop = [], [], threading.Event()

    def worker():
        conn = connect(e6)
        try:
            for _ in range(400):
                if stop.is_set():
                    break
                assert len(run_query(conn, "select * from sales.customers")) == 20
                done.append(1)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(3000):
        if e6.engine.strategy.switches >= 3 or errors or not any(t.is_alive() for t in threads):
            break
        seen = len(done)
        clock.advance(30)
        # Move the clock on only after the clients made progress, so queries land on both sides of
        # every switch however this machine schedules the threads (bounded: a stuck client fails below).
        for _ in range(2000):
            if len(done) >= seen + 3 or errors or not any(t.is_alive() for t in threads):
                break
            threads[0].join(0.005)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert e6.engine.strategy.switches >= 3
    assert len(done) == len(e6.queries()) and {r.strategy for r in e6.queries()} == {"blue", "green"}


def test_announcement_on_authenticate_moves_a_new_connection_at_once(e6, clock):
    first = connect(e6)
    cur = first.cursor()
    cur.execute("select * from sales.orders")  # a blue query holds the switch open
    e6.switch_strategy()
    second = connect(e6)  # authenticates on blue, is told "green", re-authenticates on green
    assert run_query(second) == [[n, n * n] for n in range(1, 11)]
    assert e6.queries()[-1].strategy == "green"
    auth = [(c.headers["strategy"], c.meta["grpc_code"]) for c in e6.calls if c.path.endswith("authenticate")]
    # first connection on blue; the second: blue (answered with new_strategy), then green at once
    assert auth[:3] == [("blue", "OK"), ("blue", "OK"), ("green", "OK")]
    assert e6.active_strategy == "blue" and e6.pending_strategy == "green"
    assert len(cur.fetchall()) == 100  # the first connection's query finishes on blue
    cur.close()
    assert e6.active_strategy == "green"
    assert run_query(first)  # and its next query runs on green
    assert e6.queries()[-1].strategy == "green"
    assert e6.engine.strategy.rejections == 0
    first.close()
    second.close()


def test_oauth_mode_resume_and_456_route_correction(e6):
    e6.suspend_cluster()
    conn = Connection(host="127.0.0.1", port=e6.port, access_token="tok", database="sales")
    assert len(run_query(conn)) == 10  # prepare -> exact "status: 503, cluster is suspended" -> resume
    assert [c.path.rsplit("/", 1)[1] for c in e6.calls][:4] == ["prepareStatement", "status", "resume", "status"]
    e6.set_strategy("green")
    assert len(run_query(conn)) == 10  # prepare -> exact "status: 456" -> the client flips to green
    prepares = [(c.headers.get("strategy"), c.meta["grpc_code"]) for c in e6.calls if c.path.endswith("prepareStatement")]
    # no strategy known at first (no header); blue after the resume; then 456 -> green
    assert prepares == [(None, "UNAVAILABLE"), ("blue", "OK"), ("blue", "UNKNOWN"), ("green", "OK")]
    assert all(c.headers["authorization"] == "Bearer tok" for c in e6.calls)
    conn.close()
