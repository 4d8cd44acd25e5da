"""The engine without a socket: sessions, query lifecycle, batches, cluster, journal."""

from io import BytesIO

import pytest
from e6data_python_connector.datainputstream import get_query_columns_info, read_rows_from_chunk

from mocktools.clock import FakeClock
from mocktools.e6data.engine import ACCESS_DENIED, SIGNAL_456, SUSPENDED, E6DataEngine, EngineError


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def engine(clock):
    return E6DataEngine(clock, seed=1, batch_size=4, strategy_interval=None)


def login(engine, strategy="blue"):
    return engine.authenticate("me@example.com", "token", strategy).id


def run(engine, sid, sql, **kw):
    q = engine.prepare(sid, sql, strategy_header="blue", **kw)
    engine.execute(sid, q.id, "blue")
    return q


def drain(engine, sid, q):
    _, desc = get_query_columns_info(BytesIO(engine.metadata(sid, q.id, "blue")))
    rows, batches = [], 0
    while True:
        blob = engine.next_batch(sid, q.id, "blue")
        if not blob:
            return rows, batches
        batches += 1
        rows += read_rows_from_chunk(desc, blob, strict=True)


def test_authenticate_any_nonempty_credentials(engine):
    s = engine.authenticate("a", "b", "blue")
    assert s.user == "a" and s.strategy == "blue" and engine.session(s.id) is s
    for user, pw in (("", "x"), ("x", "")):
        with pytest.raises(EngineError) as err:
            engine.authenticate(user, pw, "blue")
        assert err.value.code == "INTERNAL" and ACCESS_DENIED in err.value.message


def test_configured_credentials(clock):
    engine = E6DataEngine(clock, credentials={"alice": "s3cret"})
    assert engine.authenticate("alice", "s3cret").user == "alice"
    with pytest.raises(EngineError, match="Access denied"):
        engine.authenticate("alice", "wrong")


def test_session_expiry_and_unknown(engine, clock):
    engine.session_ttl = 60
    sid = login(engine)
    clock.advance(59)
    engine.session(sid)  # refreshes last use
    clock.advance(59)
    engine.session(sid)
    clock.advance(61)
    with pytest.raises(EngineError, match="session expired"):
        engine.session(sid)
    with pytest.raises(EngineError, match="unknown session"):
        engine.session(sid)
    sid2 = login(engine)
    assert engine.expire_sessions() == 1
    with pytest.raises(EngineError, match=ACCESS_DENIED):
        engine.prepare(sid2, "select 1", strategy_header="blue")


def test_query_in_batches_and_journal(engine):
    sid = login(engine)
    q = run(engine, sid, "select * from sales.customers", schema="sales")
    rows, batches = drain(engine, sid, q)
    assert len(rows) == 20 and batches == 5
    assert engine.next_batch(sid, q.id, "blue") == b""
    assert engine.query_status(sid, q.id, "blue") == (True, 20)
    assert "Scan[rows=20]" in engine.explain(sid, q.id, "blue")
    engine.close_query(sid, q.id, "blue")
    assert engine.close_query(sid, q.id, "blue") is None  # idempotent
    record = engine.query_log()[0]
    assert (record.sql, record.strategy, record.session_id, record.status, record.rows, record.rows_sent) == \
        ("select * from sales.customers", "blue", sid, "cleared", 20, 20)
    with pytest.raises(EngineError) as err:
        engine.next_batch(sid, q.id, "blue")
    assert err.value.code == "NOT_FOUND"


def test_batch_preconditions_and_cancel(engine):
    sid = login(engine)
    q = engine.prepare(sid, "select 1", strategy_header="blue")
    with pytest.raises(EngineError) as err:
        engine.next_batch(sid, q.id, "blue")
    assert err.value.code == "FAILED_PRECONDITION"
    engine.execute(sid, q.id, "blue", params=[(0, "INT", "1")])
    assert engine.queries[q.id].params == [(0, "INT", "1")]
    engine.close_query(sid, q.id, "blue", cancel=True)
    assert engine.query_log()[-1].status == "cancelled"


def test_v2_batches(engine):
    engine.v2_chunks_per_call = 2
    sid = login(engine)
    q = run(engine, sid, "select * from sales.customers")
    chunks, done = engine.next_batches(sid, q.id, "blue")
    assert len(chunks) == 2 and not done
    total = 2
    while not done:
        chunks, done = engine.next_batches(sid, q.id, "blue")
        total += len(chunks)
    assert total == 5


def test_sql_error_is_journaled(engine):
    sid = login(engine)
    with pytest.raises(EngineError) as err:
        engine.prepare(sid, "select * from nowhere", strategy_header="blue")
    assert err.value.code == "INTERNAL" and "not found" in err.value.message
    assert engine.query_log()[-1].status == "failed"
    assert '"valid": false' in engine.dry_run(sid, "select * from nowhere", strategy_header="blue")
    assert '"valid": true' in engine.dry_run(sid, "select 1", strategy_header="blue")


def test_strategy_456_and_query_pinning(engine, clock):
    sid = login(engine)
    q = run(engine, sid, "select * from numbers")
    engine.strategy.switch_strategy()
    assert engine.announcement() == "green"
    # the blue query still runs on blue; the switch waits for it
    assert engine.next_batch(sid, q.id, "blue")
    assert engine.strategy.active == "blue"
    engine.close_query(sid, q.id, "blue")
    assert engine.strategy.active == "green"
    with pytest.raises(EngineError) as err:
        engine.prepare(sid, "select 1", strategy_header="blue")
    assert (err.value.code, err.value.message) == ("UNKNOWN", SIGNAL_456)
    with pytest.raises(EngineError, match="456"):
        engine.authenticate("a", "b", "blue")
    assert engine.prepare(sid, "select 1", strategy_header="green").strategy == "green"


def test_cluster_suspend_resume(engine, clock):
    engine.suspend_cluster()
    for call in (lambda: engine.authenticate("a", "b", "blue"), lambda: engine.list_catalogs("blue")):
        with pytest.raises(EngineError) as err:
            call()
        assert (err.value.code, err.value.message) == ("UNAVAILABLE", SUSPENDED)
    assert engine.cluster_status("blue") == "suspended"
    engine.resume_delay = 10
    assert engine.resume_cluster() == "resuming"
    clock.advance(10)
    assert engine.cluster_status("blue") == "active"
    engine.suspend_cluster()
    engine.resume_fails = True
    assert engine.resume_cluster() == "failed"


def test_listing_and_bearer_sessions(engine):
    sid = login(engine)
    assert engine.list_schemas(sid, "", "blue") == ["default", "sales"]
    assert engine.list_tables(sid, "sales", "default", "blue") == ["customers", "orders"]
    assert engine.list_columns(sid, "sales", "customers", "", "blue")[0] == ("customer_id", "LONG")
    with pytest.raises(EngineError) as err:
        engine.list_columns(sid, "sales", "ghost", "", "blue")
    assert err.value.code == "NOT_FOUND"
    assert engine.list_catalogs("blue") == [("default", True)]
    # OAuth: empty session id + bearer token
    assert engine.session("", bearer="tok").token
    engine.revoked_tokens.add("tok")
    with pytest.raises(EngineError) as err:
        engine.session("", bearer="tok")
    assert err.value.code == "UNAUTHENTICATED"


def test_describe_and_reset(engine):
    sid = login(engine)
    engine.prepare(sid, "select 1", strategy_header="blue")
    state = engine.describe()
    assert state["sessions"] == 1 and state["open_queries"] == 1 and state["strategy"]["active"] == "blue"
    engine.reset()
    assert engine.describe()["sessions"] == 0 and engine.query_log() == []
