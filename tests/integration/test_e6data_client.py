"""e6data-python-connector, unmodified, against MockE6DataServer over a real socket:
connect, execute, fetch*, description, rowcount, typed results, catalog listing, misc RPCs."""

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import pytest
from e6data_python_connector import Connection, e6data_grpc

from mocktools.clock import FakeClock
from mocktools.e6data import MockE6DataServer


def reset_client_strategy_cache():
    """The client caches the strategy process-wide; each test starts from a clean client."""
    with e6data_grpc._strategy_lock:
        e6data_grpc._get_shared_strategy().update(
            active_strategy=None, pending_strategy=None, query_strategy_map={}, session_invalidated=False,
            last_check_time=0, last_transition_time=0)


@pytest.fixture(autouse=True)
def clean_client():
    reset_client_strategy_cache()
    yield
    reset_client_strategy_cache()


@pytest.fixture
def e6():
    with MockE6DataServer(clock=FakeClock(), seed=7) as mock:
        yield mock


def connect(mock, **kw):
    kw.setdefault("username", "tester@example.com")
    kw.setdefault("password", "pat-123")
    kw.setdefault("database", "sales")
    kw.setdefault("cluster_name", "MyCluster")
    return Connection(host="127.0.0.1", port=mock.port, **kw)


def test_execute_fetchall_description_rowcount(e6):
    conn = connect(e6)
    cur = conn.cursor()
    query_id = cur.execute("SELECT * FROM sales.customers;")
    assert query_id.startswith("q-")
    assert cur.rowcount == 20
    assert [d[:2] for d in cur.description] == [("customer_id", "LONG"), ("name", "STRING"),
                                                 ("score", "DOUBLE"), ("vip", "BOOLEAN")]
    assert all(d[2:] == (None, None, None, None, True) for d in cur.description)
    rows = cur.fetchall()
    assert len(rows) == 20 and [r[0] for r in rows] == list(range(1, 21))
    cur.close()
    conn.close()
    record = e6.queries()[-1]
    assert record.sql == "SELECT * FROM sales.customers" and record.strategy == "blue"
    assert record.status == "cleared" and record.user == "tester@example.com"
    calls = e6.calls
    assert [c.path.rsplit("/", 1)[1] for c in calls][:4] == ["authenticate", "prepareStatement",
                                                             "executeStatement", "getResultMetadata"]
    assert calls[0].headers["strategy"] == "blue" and calls[0].headers["cluster-name"] == "mycluster"
    assert calls[2].headers["plannerip"] == "127.0.0.1"


def test_typed_result_and_parameters(e6):
    tz = dt.timezone(dt.timedelta(hours=2))
    e6.set_query_result(
        "select * from typed where id = 1",
        [("id", "LONG"), ("qty", "INTEGER"), ("price", "DOUBLE"), ("ratio", "FLOAT"), ("label", "STRING"),
         ("ok", "BOOLEAN"), ("day", "DATE"), ("at", "DATETIME"), ("at_tz", "TIMESTAMP_TZ"),
         ("amount", "DECIMAL128", 2), ("nothing", "NULL")],
        [(1, 2, 3.25, 0.5, "x", True, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 10, 30),
          dt.datetime(2024, 3, 1, 10, 30, tzinfo=tz), Decimal("19.99"), None),
         (2, None, None, None, None, None, None, None, None, None, None)])
    conn = connect(e6)
    cur = conn.cursor()
    cur.execute("select * from typed where id = %(id)s", {"id": 1})
    rows = cur.fetchall()
    assert rows[0] == [1, 2, 3.25, 0.5, "x", True, "2024-03-01", "2024-03-01T10:30:00.000+00:00",
                       "2024-03-01T10:30:00.000+02:00", Decimal("19.99"), None]
    assert rows[1] == [2] + [None] * 10
    assert e6.queries()[-1].sql == "select * from typed where id = 1"
    cur.close()
    conn.close()


def test_fetchmany_fetchone_across_batches(e6):
    e6.set_batch_size(7)
    conn = connect(e6)
    cur = conn.cursor()
    cur.execute("select * from orders")
    first = cur.fetchone()
    assert len(first) == 1 and first[0][0] == 1  # the client returns a one-row list
    many = cur.fetchmany(15)
    assert [r[0] for r in many] == list(range(2, 17))
    rest = cur.fetchall()
    assert [r[0] for r in rest][-1] == 100
    cur.close()
    conn.close()
    # 100 rows in batches of 7: 15 chunks, then the empty end-of-result answer
    assert e6.get_call_count("/QueryEngineService/getNextResultBatch") == 16


def test_catalog_path_v2_and_listing(e6):
    e6.add_table("raw", "events", ["id:LONG", "kind:STRING"], rows=[(1, "click"), (2, "view")], catalog="lake")
    conn = connect(e6, catalog="lake", database="raw")
    cur = conn.cursor(catalog_name="lake", db_name="raw")
    cur.execute("select * from events")
    assert cur.fetchall() == [[1, "click"], [2, "view"]]
    assert cur.get_tables() == ["events"]
    assert cur.get_columns("events") == [{"fieldName": "id", "fieldType": "LONG"},
                                         {"fieldName": "kind", "fieldType": "STRING"}]
    assert cur.get_schema_names() == ["raw"]
    cur.close()
    assert conn.get_schema_names("default") == ["default", "sales"]
    assert conn.get_tables("default", "sales") == ["customers", "orders"]
    assert {c["name"]: c["isDefault"] for c in conn.get_catalogs()} == {"default": True, "lake": False}
    conn.close()
    paths = {c.path for c in e6.calls}
    assert "/QueryEngineService/prepareStatementV2" in paths and "/QueryEngineService/executeStatementV2" in paths
    assert e6.queries()[-1].catalog == "lake" and e6.queries()[-1].schema == "raw"


def test_explain_status_dry_run_cancel(e6):
    conn = connect(e6)
    cur = conn.cursor()
    qid = cur.execute("select * from numbers")
    assert "Scan[rows=10]" in cur.explain()
    analysed = cur.explain_analyse()
    assert analysed["is_cached"] is False and "MockPlan" in analysed["planner"]
    status = cur.status(qid)
    assert status.status is True and status.rowCount == 10
    cur.cancel(qid)
    assert e6.queries()[-1].status == "cancelled"
    assert '"valid": true' in conn.dry_run("select 1")
    assert '"valid": false' in conn.dry_run("select * from ghost")
    conn.close()


def test_sql_error_reaches_the_client(e6):
    e6.set_query_error("select boom", "Syntax error at 'boom'")
    conn = connect(e6)
    cur = conn.cursor()
    with pytest.raises(Exception) as err:
        cur.execute("select boom")
    assert "Syntax error" in str(err.value)
    cur.execute("select 1")  # the mock keeps serving
    assert cur.fetchall() == [[1]]
    conn.close()


def test_large_generated_result(e6):
    e6.add_table("big", "facts", ["id:LONG", "v:DOUBLE", "s:STRING"], row_count=25_000)
    conn = connect(e6)
    cur = conn.cursor()
    cur.execute("select * from big.facts")
    rows = cur.fetchall()
    assert len(rows) == 25_000 and rows[-1][0] == 25_000
    cur.close()
    conn.close()


def test_oauth_bearer_mode(e6):
    conn = Connection(host="127.0.0.1", port=e6.port, access_token="tok-1", database="sales")
    cur = conn.cursor()
    cur.execute("select * from numbers")
    assert len(cur.fetchall()) == 10
    cur.close()
    conn.close()
    assert e6.calls[-1].headers["authorization"] == "Bearer tok-1"
    assert e6.get_call_count("/QueryEngineService/authenticate") == 0


V2_SCRIPT = """
import json, sys
from e6data_python_connector import Connection

def main():
    conn = Connection(host="127.0.0.1", port=int(sys.argv[1]), username="u", password="p",
                      database="sales", enable_result_batch_v2=True)
    try:
        cur = conn.cursor()
        cur.execute("select * from sales.customers")
        print(json.dumps([row[0] for row in cur.fetchall()]))
        cur.close()
    finally:
        conn.close()

if __name__ == "__main__":
    main()
"""


@pytest.mark.timeout(120)
def test_result_batch_v2(e6, tmp_path):
    # The connector's V2 path decodes in spawned worker processes and insists on a real, guarded
    # __main__ file (pytest-xdist workers have none), so the client runs as a small script.
    script = tmp_path / "v2_client.py"
    script.write_text(V2_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(e6.port)], capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == list(range(1, 21))
    assert e6.get_call_count("/QueryEngineService/getNextResultBatchV2") >= 1


def test_plugin_fixture_serves_the_client(mock_e6data):
    conn = Connection(host="127.0.0.1", port=mock_e6data.port, username="u", password="p")
    cur = conn.cursor()
    cur.execute("select 42 as answer")
    assert cur.fetchall() == [[42]] and cur.description[0][:2] == ("answer", "INTEGER")
    cur.close()
    conn.close()
