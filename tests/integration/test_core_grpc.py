"""The gRPC form of the lifecycle: journal, faults mapped to status codes, errors, admin port."""
from __future__ import annotations

import grpc
import pytest
import requests

from mocktools import MockServerError, MockStartError
from mocktools.grpc_mock import GRPCMockServer, grpc_code_for


class EchoGRPC(GRPCMockServer):
    name = "echo-grpc"

    def register_services(self, server: grpc.Server) -> None:
        def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
            if request == b"boom":
                raise RuntimeError("servicer bug")
            if request == b"deny":
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")
            return b"echo:" + request

        def count(request: bytes, context: grpc.ServicerContext):
            for i in range(int(request or b"0")):
                yield str(i).encode()

        handlers = {"Echo": grpc.unary_unary_rpc_method_handler(echo),
                    "Count": grpc.unary_stream_rpc_method_handler(count)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))


@pytest.fixture
def echo():
    with EchoGRPC(admin_port=0) as mock:
        channel = grpc.insecure_channel(mock.target)
        yield mock, channel.unary_unary("/test.Echo/Echo"), channel.unary_stream("/test.Echo/Count")
        channel.close()
        mock.reset()


def test_calls_are_journaled_with_metadata(echo) -> None:
    mock, unary, stream = echo
    assert unary(b"hi", metadata=(("x-session", "s1"),), timeout=5) == b"echo:hi"
    assert list(stream(b"3", timeout=5)) == [b"0", b"1", b"2"]
    calls = mock.calls
    assert [c.path for c in calls] == ["/test.Echo/Echo", "/test.Echo/Count"]
    assert calls[0].headers["x-session"] == "s1" and calls[0].body == b"hi" and calls[0].meta["grpc_code"] == "OK"
    assert mock.get_call_count("/test.Echo/*") == 2 and mock.url.startswith("grpc://")


def test_faults_map_to_grpc_codes(echo) -> None:
    mock, unary, stream = echo
    mock.set_failure_count(1, status=503)
    with pytest.raises(grpc.RpcError) as info:
        unary(b"x", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    mock.set_failure_count(1, status=grpc.StatusCode.DEADLINE_EXCEEDED, path="/test.Echo/Count")
    with pytest.raises(grpc.RpcError) as info:
        list(stream(b"2", timeout=5))
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    mock.set_rate_limit(0, window=60)
    with pytest.raises(grpc.RpcError) as info:
        unary(b"x", timeout=5)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(info.value.trailing_metadata())
    assert trailers["retry-after"] == "60"
    from google.rpc import error_details_pb2, status_pb2

    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 60
    mock.set_success()
    mock.set_connection_fault("reset", count=1)
    with pytest.raises(grpc.RpcError) as info:
        unary(b"x", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert unary(b"ok", timeout=5) == b"echo:ok"
    assert [c.meta["grpc_code"] for c in mock.calls] == [
        "UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "OK"]


def test_servicer_abort_is_not_a_bug_but_an_exception_is(echo) -> None:
    mock, unary, _ = echo
    with pytest.raises(grpc.RpcError) as info:
        unary(b"deny", timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED and mock.errors == []
    with pytest.raises(grpc.RpcError) as info:
        unary(b"boom", timeout=5)
    assert info.value.code() == grpc.StatusCode.INTERNAL and "RuntimeError" in info.value.details()
    with pytest.raises(MockServerError, match="servicer bug"):
        mock.check()


def test_unknown_method_is_unimplemented_and_journaled(echo) -> None:
    mock, _, _ = echo
    channel = grpc.insecure_channel(mock.target)
    with pytest.raises(grpc.RpcError) as info:
        channel.unary_unary("/test.Echo/Nope")(b"", timeout=5)
    channel.close()
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert mock.calls[-1].meta["grpc_code"] == "UNIMPLEMENTED"


def test_admin_port_serves_the_control_api(echo) -> None:
    mock, unary, _ = echo
    unary(b"a", timeout=5)
    assert requests.get(f"{mock.admin_url}/_mock/calls/count", timeout=5).json() == {"count": 1}
    requests.post(f"{mock.admin_url}/_mock/faults/failure-count", json={"n": 1, "status": 401}, timeout=5)
    with pytest.raises(grpc.RpcError) as info:
        unary(b"a", timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_port_in_use_and_restart() -> None:
    with EchoGRPC() as first:
        with pytest.raises(MockStartError, match="in use"):
            EchoGRPC(port=first.port).start()
    mock = EchoGRPC().start()
    mock.stop()
    mock.stop()
    assert mock.admin_url is None and not mock.running


def test_status_mapping() -> None:
    assert grpc_code_for(404) == grpc.StatusCode.NOT_FOUND
    assert grpc_code_for("unavailable") == grpc.StatusCode.UNAVAILABLE
    assert grpc_code_for(418) == grpc.StatusCode.UNKNOWN
