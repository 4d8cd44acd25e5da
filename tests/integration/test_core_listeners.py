"""The listener seam: a mock is a list of listeners; one error tree, translated per transport."""
from __future__ import annotations

import socket

import grpc
import pytest
import requests

from mocktools import HTTPMockServer, MockStartError
from mocktools.errors import WireError
from mocktools.grpc_mock import GRPCMockServer
from mocktools.listeners.http import HTTPListener
from mocktools.routing import Router


class TeapotError(WireError):
    """A domain error: it knows its HTTP status and its gRPC code; no handler translates it."""

    status = 418
    grpc_code = "FAILED_PRECONDITION"
    type = "teapot"


class TwoPorts(HTTPMockServer):
    name = "two-ports"

    def __init__(self, second_port: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.second = self.add_listener(HTTPListener(self, port=second_port, role="second", site=self))

    def register_routes(self, router: Router) -> None:
        router.add("/brew", self.brew)

    def brew(self, request):
        raise TeapotError("short and stout", pot="blue")


def test_domain_error_answers_its_http_status_in_the_mock_shape() -> None:
    with TwoPorts() as mock:
        answer = requests.get(mock.url + "/brew", timeout=5)
        assert answer.status_code == 418
        assert answer.json()["error"] == {"code": 418, "type": "teapot", "message": "short and stout", "pot": "blue"}
        # the second listener serves the same site, journal and fault plan
        assert requests.get(mock.endpoints()["second"] + "/brew", timeout=5).status_code == 418
        assert mock.get_call_count("/brew") == 2 and mock.errors == []


def test_a_failed_listener_rolls_back_the_ones_already_open() -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    try:
        mock = TwoPorts(second_port=taken)
        with pytest.raises(MockStartError, match="already in use"):
            mock.start()
        assert not mock.running and not mock.http_listener.is_open
        first_port = mock.http_listener.port
        assert first_port == 0  # back to the requested port: nothing left bound
    finally:
        holder.close()
    with TwoPorts(second_port=taken) as mock:  # the port is free again: both listen
        assert mock.second.port == taken


@pytest.mark.parametrize("port", [-1, 65536, 99999, "http"])
def test_ports_are_validated(port) -> None:
    with pytest.raises(ValueError, match="port"):
        HTTPMockServer(port=port)


class TeapotGRPC(GRPCMockServer):
    name = "teapot-grpc"

    def register_services(self, server: grpc.Server) -> None:
        def brew(request: bytes, context: grpc.ServicerContext) -> bytes:
            raise TeapotError("short and stout")

        def pour(request: bytes, context: grpc.ServicerContext):
            yield b"one"
            raise TeapotError("empty")

        handlers = {"Brew": grpc.unary_unary_rpc_method_handler(brew),
                    "Pour": grpc.unary_stream_rpc_method_handler(pour)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Pot", handlers),))


def test_domain_error_aborts_with_its_grpc_code_unary_and_stream() -> None:
    with TeapotGRPC() as mock, grpc.insecure_channel(mock.target) as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/t.Pot/Brew")(b"", timeout=5)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert info.value.details() == "short and stout"
        stream = channel.unary_stream("/t.Pot/Pour")(b"", timeout=5)
        assert next(stream) == b"one"
        with pytest.raises(grpc.RpcError) as info:
            next(stream)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        codes = [c.meta["grpc_code"] for c in mock.calls]
        assert codes == ["FAILED_PRECONDITION", "FAILED_PRECONDITION"] and mock.errors == []


def test_wire_error_grpc_code_defaults_from_http_status() -> None:
    assert WireError("x", status=404).grpc_status_name() == "NOT_FOUND"
    assert WireError("x", status=418).grpc_status_name() == "UNKNOWN"
    assert TeapotError("x").grpc_status_name() == "FAILED_PRECONDITION"
