"""The e6data mock on the wire: shared faults as gRPC codes, hostile input, every RPC answered,
and the /_mock/e6data HTTP controls."""

import json
import time
import urllib.error
import urllib.request

import grpc
import pytest
from e6data_python_connector import Connection

from mocktools.clock import FakeClock
from mocktools.e6data import MockE6DataServer
from mocktools.e6data._generated import cluster_pb2 as cpb
from mocktools.e6data._generated import cluster_pb2_grpc
from mocktools.e6data._generated import e6x_engine_pb2 as pb
from mocktools.e6data._generated import e6x_engine_pb2_grpc

from .test_e6data_client import connect, reset_client_strategy_cache

BLUE = [("strategy", "blue")]


@pytest.fixture(autouse=True)
def clean_client():
    reset_client_strategy_cache()
    yield
    reset_client_strategy_cache()


@pytest.fixture
def e6():
    with MockE6DataServer(clock=FakeClock(), seed=3, admin_port=0) as mock:
        yield mock


@pytest.fixture
def stub(e6):
    with grpc.insecure_channel(f"127.0.0.1:{e6.port}") as channel:
        yield e6x_engine_pb2_grpc.QueryEngineServiceStub(channel), channel


def session(stub_):
    return stub_.authenticate(pb.AuthenticateRequest(user="u", password="p"), metadata=BLUE).sessionId


def run(conn, sql="select * from numbers"):
    cur = conn.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    cur.close()
    return rows


def test_fail_next_n_on_one_rpc_then_recover(e6):
    e6.set_failure_count(2, status=503, path="/QueryEngineService/prepareStatement")
    conn = connect(e6)
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as err:
            run(conn)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert run(conn)[0] == [1, 1]
    conn.close()
    faulted = [c for c in e6.calls if c.fault]
    assert len(faulted) == 2 and all(c.path.endswith("prepareStatement") for c in faulted)


def test_chosen_status_code_permanent_failure_and_success(e6):
    conn = connect(e6)
    assert run(conn)
    e6.set_permanent_failure(status=grpc.StatusCode.RESOURCE_EXHAUSTED, path="*/getNextResultBatch")
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as err:
            run(conn)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    e6.set_success()
    assert run(conn)
    conn.close()


def test_latency_is_applied(e6):
    conn = connect(e6)
    assert run(conn)
    e6.set_latency(0.05, path="*/prepareStatement")
    started = time.perf_counter()
    assert run(conn)
    assert time.perf_counter() - started >= 0.05
    conn.close()


def test_injected_456_mid_query_and_on_prepare(e6):
    conn = connect(e6)
    e6.inject_strategy_mismatch(1, "prepareStatement")
    assert run(conn)  # retried by the client's execute wrapper
    e6.inject_strategy_mismatch(1, "getNextResultBatch")
    cur = conn.cursor()
    cur.execute("select * from numbers")
    with pytest.raises(grpc.RpcError) as err:  # the client does not retry a fetch
        cur.fetchall()
    assert err.value.code() == grpc.StatusCode.UNKNOWN and err.value.details() == "status: 456"
    conn.close()


def test_malformed_request_and_unknown_method_keep_server_alive(e6, stub):
    s, channel = stub
    garbage = channel.unary_unary("/QueryEngineService/prepareStatement")
    with pytest.raises(grpc.RpcError) as err:
        garbage(b"\xff\xff\xff\xff\x0f not protobuf")
    assert err.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
    missing = channel.unary_unary("/QueryEngineService/noSuchMethod")
    with pytest.raises(grpc.RpcError) as err:
        missing(b"")
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    sid = session(s)
    assert sid
    assert e6.get_call_count("/QueryEngineService/noSuchMethod") == 1
    assert e6.get_call_count("/QueryEngineService/authenticate") == 1


def test_oversized_and_hostile_sql(e6):
    conn = connect(e6)
    big = "select '" + "x" * 1_000_000 + "'"
    assert run(conn, big)[0][0] == "x" * 1_000_000
    for sql in ("select * from \"; drop table x; --", "select * from ../../etc/passwd", "\x00\x01 select"):
        cur = conn.cursor()
        try:
            cur.execute(sql)
            cur.fetchall()
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INTERNAL
        finally:
            cur.close()
    assert run(conn) and len(e6.queries()) >= 4
    conn.close()


def test_session_and_query_errors_on_raw_stub(stub):
    s, _ = stub
    with pytest.raises(grpc.RpcError) as err:
        s.prepareStatement(pb.PrepareStatementRequest(sessionId="nope", queryString="select 1"), metadata=BLUE)
    assert err.value.code() == grpc.StatusCode.INTERNAL and "Access denied" in err.value.details()
    sid = session(s)
    for call, req in ((s.getNextResultBatch, pb.GetNextResultBatchRequest), (s.executeStatement,
                      pb.ExecuteStatementRequest), (s.getResultMetadata, pb.GetResultMetadataRequest)):
        with pytest.raises(grpc.RpcError) as err:
            call(req(sessionId=sid, queryId="q-missing"), metadata=BLUE)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # clearing an unknown query is idempotent, as cursor.close() expects
    assert s.clear(pb.ClearRequest(sessionId=sid, queryId="q-missing"), metadata=BLUE).sessionId == sid


def test_every_other_rpc_answers(e6, stub):
    s, channel = stub
    sid = session(s)
    q = s.prepareStatement(pb.PrepareStatementRequest(sessionId=sid, queryString="select 1"), metadata=BLUE)
    s.executeStatementV2(pb.ExecuteStatementV2Request(sessionId=sid, queryId=q.queryId, params=[
        pb.ParameterValue(index=0, type="INTEGER", value="1")]), metadata=BLUE)
    v2 = s.prepareStatement(pb.PrepareStatementRequest(sessionId=sid, queryString="select * from sales.orders"),
                            metadata=BLUE)
    s.executeStatement(pb.ExecuteStatementRequest(sessionId=sid, queryId=v2.queryId), metadata=BLUE)
    e6.set_batch_size(30)
    chunks, end = [], False
    while not end:
        reply = s.getNextResultBatchV2(pb.GetNextResultBatchRequest(sessionId=sid, queryId=v2.queryId),
                                       metadata=BLUE)
        chunks += list(reply.resultBatches)
        end = reply.endOfStream
    assert len(chunks) == 4 and all(chunks)  # 100 rows in 30-row chunks, no empty entries
    params = s.getDynamicParams(pb.GetDynamicParamsRequest(sessionId=sid, queryId=q.queryId), metadata=BLUE)
    assert [(p.index, p.value) for p in params.params] == [(0, "1")]
    planner = s.identifyPlanner(pb.IdentifyPlannerRequest(sessionId=sid), metadata=BLUE)
    assert planner.plannerIp == "127.0.0.1" and planner.queueMessage == pb.IdentifyPlannerResponse.GO_AHEAD
    assert s.getSchemaNames(pb.GetSchemaNamesRequest(sessionId=sid), metadata=BLUE).schemas == ["default", "sales"]
    assert s.getTables(pb.GetTablesRequest(sessionId=sid, schema="sales"), metadata=BLUE).tables == [
        "customers", "orders"]
    cols = s.getColumns(pb.GetColumnsRequest(sessionId=sid, schema="sales", table="customers"), metadata=BLUE)
    assert cols.fieldInfo[0].fieldName == "customer_id"
    s.addCatalogs(pb.AddCatalogsRequest(sessionId=sid, json='{"catalogs": [{"name": "lake"}, "hive"]}'),
                  metadata=BLUE)
    assert {c.name for c in s.getCataloges(pb.GetCatalogesRequest(), metadata=BLUE).catalogResponses} == {
        "default", "lake", "hive"}
    with pytest.raises(grpc.RpcError) as err:
        s.addCatalogs(pb.AddCatalogsRequest(sessionId=sid, json="{broken"), metadata=BLUE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert s.getAddCatalogsResponse(pb.GetAddCatalogsRequest(sessionId=sid), metadata=BLUE).status == "success"
    s.refreshCatalogs(pb.RefreshCatalogsRequest(sessionId=sid), metadata=BLUE)
    s.healthCheck(pb.HealthCheckRequest(), metadata=BLUE)
    s.analyzeQuery(pb.AnalyzeQueryRequest(query="select 1"), metadata=BLUE)
    s.syncSchemas(pb.SyncSchemaRequest(catalog="default"), metadata=BLUE)
    s.setProps(pb.SetPropsRequest(sessionId=sid, props="{}"), metadata=BLUE)
    s.updateUsers(pb.UpdateUsersRequest(users=b""), metadata=BLUE)
    dry = s.dryRunV2(pb.DryRunRequestV2(sessionId=sid, queryString="select 1", catalog="default"), metadata=BLUE)
    assert '"valid": true' in dry.dryrunValue
    s.dropUserContext(pb.DropUserContextRequest(sessionId=sid), metadata=BLUE)
    with pytest.raises(grpc.RpcError) as err:
        s.getTables(pb.GetTablesRequest(sessionId=sid, schema="sales"), metadata=BLUE)
    assert "Access denied" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        s.createDataFrame(pb.CreateDataFrameRequest(), metadata=BLUE)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    cluster = cluster_pb2_grpc.ClusterServiceStub(channel)
    assert cluster.suspend(cpb.SuspendRequest(user="u", password="p"), metadata=BLUE).status == "suspended"
    with pytest.raises(grpc.RpcError) as err:
        s.healthCheck(pb.HealthCheckRequest(), metadata=BLUE)
    assert err.value.details() == "status: 503, cluster is suspended"
    assert cluster.resume(cpb.ResumeRequest(user="u", password="p"), metadata=BLUE).status == "active"
    with pytest.raises(grpc.RpcError) as err:
        cluster.status(cpb.ClusterStatusRequest(), metadata=[("strategy", "green")])
    assert err.value.details() == "status: 456"


def http(mock, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(mock.admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_http_domain_controls(e6):
    assert http(e6, "GET", "/_mock/e6data/strategy") == (200, e6.engine.strategy.describe())
    assert http(e6, "POST", "/_mock/e6data/switch", {"immediate": True})[1]["active"] == "green"
    assert http(e6, "PUT", "/_mock/e6data/strategy", {"strategy": "blue"})[1]["active"] == "blue"
    assert http(e6, "PUT", "/_mock/e6data/strategy", {"strategy": "red"})[0] == 400
    assert http(e6, "POST", "/_mock/e6data/batch-size", {"rows": 3}) == (200, {"batch_size": 3})
    assert http(e6, "POST", "/_mock/e6data/batch-size", {"rows": 0})[0] == 400
    status, body = http(e6, "POST", "/_mock/e6data/query-result",
                        {"sql": "select x", "columns": [["x", "LONG"], "y:STRING"], "rows": [[1, "a"], [2, "b"]]})
    assert status == 200 and body["rows"] == 2
    assert http(e6, "POST", "/_mock/e6data/query-result", {"sql": "select x"})[0] == 400
    assert http(e6, "POST", "/_mock/e6data/query-result", {"sql": "s", "columns": [["x", "BAD"]]})[0] == 400
    conn = connect(e6)
    assert run(conn, "select x") == [[1, "a"], [2, "b"]]
    assert http(e6, "POST", "/_mock/e6data/sessions/expire") == (200, {"expired": 1})
    assert http(e6, "POST", "/_mock/e6data/inject-456", {"count": 1, "method": "prepare*"})[0] == 200
    assert http(e6, "POST", "/_mock/e6data/inject-456", {"count": -1})[0] == 400
    assert run(conn, "select x")
    conn.close()
    assert [q["sql"] for q in http(e6, "GET", "/_mock/e6data/queries")[1]["queries"]] == ["select x", "select x"]
    assert http(e6, "POST", "/_mock/e6data/cluster/suspend") == (200, {"cluster": "suspended"})
    assert http(e6, "POST", "/_mock/e6data/cluster/resume") == (200, {"cluster": "active"})
    assert http(e6, "POST", "/_mock/e6data/cluster/explode")[0] == 404
    assert http(e6, "POST", "/_mock/e6data/switch", [1])[0] == 422
    assert http(e6, "GET", "/_mock/state")[1]["cluster"] == "active"


def test_server_lifecycle_and_cli_hooks():
    import argparse

    parser = argparse.ArgumentParser()
    MockE6DataServer.cli_arguments(parser)
    args = parser.parse_args(["--strategy-interval", "0", "--batch-size", "5", "--initial-strategy", "green"])
    mock = MockE6DataServer.from_cli(args, host="127.0.0.1", port=0, seed=1)
    assert mock.engine.strategy.interval is None and mock.engine.batch_size == 5
    with mock:
        assert mock.active_strategy == "green" and mock.pending_strategy is None
        conn = Connection(host="127.0.0.1", port=mock.port, username="u", password="p")
        assert run(conn)
        conn.close()
        mock.set_strategy_interval(10)
        assert mock.engine.strategy.interval == 10
        with pytest.raises(ValueError):
            mock.set_batch_size(0)
        mock.reset()
        assert mock.queries() == [] and mock.active_strategy == "green"
    mock.stop()
    assert not mock.running
