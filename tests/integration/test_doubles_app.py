"""Your own app as a mock, extra routes on built-in mocks, fixtures, and gRPC journal queries."""
from __future__ import annotations

import grpc
import httpx
import pytest
import requests
from flask import Blueprint, Flask, jsonify, request
from google.protobuf import struct_pb2

from mocktools import MockHTTPServer, MockOFDServer, MockRegistry, MockServerError
from mocktools.doubles import ExpectationError
from mocktools.grpc_mock import GRPCMockServer


def make_payments_app() -> Flask:
    """A user's own Flask app, with a view that has a bug."""
    app = Flask("payments")
    payments: dict[str, dict] = {}

    @app.post("/payments")
    def create():
        body = request.get_json()
        payments[body["id"]] = body
        return jsonify(status="created", id=body["id"]), 201

    @app.get("/payments/<pid>")
    def show(pid: str):
        return jsonify(payments[pid])  # KeyError for an unknown id: the bug

    return app


def test_flask_app_served_with_the_whole_lifecycle() -> None:
    with MockHTTPServer(app=make_payments_app()) as mock:
        assert requests.post(f"{mock.url}/payments", json={"id": "p1", "amount": 5}, timeout=5).status_code == 201
        assert httpx.get(f"{mock.url}/payments/p1", timeout=5).json() == {"id": "p1", "amount": 5}
        mock.set_failure_count(1, status=502)
        assert requests.get(f"{mock.url}/payments/p1", timeout=5).status_code == 502
        assert mock.find_calls(method="POST", json={"amount": 5})[0].headers["content-type"] == "application/json"
        assert requests.get(f"{mock.url}/_mock", timeout=5).json()["name"] == "http"
        assert requests.get(f"{mock.url}/nowhere", timeout=5).status_code == 404
        with pytest.raises(ExpectationError, match="GET /nowhere"):
            mock.check()
        mock.expect_request("/payments/p9").respond_with_json({"id": "p9", "stubbed": True})
        assert requests.get(f"{mock.url}/payments/p9", timeout=5).json()["stubbed"] is True  # stub before app


def test_an_exception_in_the_users_view_fails_the_test() -> None:
    mock = MockHTTPServer(app=make_payments_app())
    with pytest.raises(MockServerError, match="KeyError"), mock:
        assert requests.get(f"{mock.url}/payments/unknown", timeout=5).status_code == 500
        requests.get(f"{mock.url}/payments/unknown", timeout=5)
    assert not mock.running


def test_any_wsgi_app_and_its_errors() -> None:
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("wsgi bug")
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got:" + body]

    with MockHTTPServer(app=app) as mock:
        assert requests.post(f"{mock.url}/any", data=b"xyz", timeout=5).text == "got:xyz"
        assert requests.get(f"{mock.url}/boom", timeout=5).json()["error"]["type"] == "app_error"
        with pytest.raises(MockServerError, match="wsgi bug"):
            mock.check()
    with pytest.raises(ValueError):
        MockHTTPServer(app=app, upstream="http://127.0.0.1:1")


def test_empty_mock_answers_only_stubs_and_user_routes() -> None:
    with MockHTTPServer() as mock:
        @mock.route("/ping", methods=["GET", "POST"])
        def ping():
            return {"pong": request.method}

        mock.add_url_rule("/sum/<int:a>/<int:b>", view_func=lambda a, b: {"sum": a + b})
        assert requests.post(f"{mock.url}/ping", timeout=5).json() == {"pong": "POST"}
        assert requests.get(f"{mock.url}/sum/2/3", timeout=5).json() == {"sum": 5}
        mock.expect_request("/ping").respond_with_data("stub wins")
        assert requests.get(f"{mock.url}/ping", timeout=5).text == "stub wins"
        assert requests.get(f"{mock.url}/other", timeout=5).status_code == 404
        with pytest.raises(ExpectationError):
            mock.check()


def test_blueprint_and_route_beside_a_builtin_mock() -> None:
    bp = Blueprint("fiscal_extra", __name__, url_prefix="/ofd/v2")

    @bp.get("/status")
    def status():
        return {"v2": True}

    with MockOFDServer() as ofd:
        ofd.register_blueprint(bp)
        assert requests.get(f"{ofd.url}/ofd/v2/status", timeout=5).json() == {"v2": True}

        @ofd.route("/ofd/v1/explode")
        def explode():
            raise ValueError("test view bug")

        assert requests.get(f"{ofd.url}/ofd/v1/explode", timeout=5).json()["error"]["type"] == "route_error"
        assert requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "1"}, timeout=5).status_code == 200
        with pytest.raises(MockServerError, match="test view bug"):
            ofd.check()


def test_override_one_ofd_endpoint_for_one_test(mock_ofd: MockOFDServer) -> None:
    @mock_ofd.route("/ofd/v1/receipt", methods=["POST"])
    def reject():
        return {"status": "rejected", "reason": "fiscal drive full"}, 422

    r = requests.post(f"{mock_ofd.url}/ofd/v1/receipt", json={"document_id": "A"}, timeout=5)
    assert r.status_code == 422 and r.json()["reason"] == "fiscal drive full"
    assert mock_ofd.get_received_receipts() == [] and mock_ofd.get_call_count() == 1


def test_the_override_is_gone_in_the_next_test(mock_ofd: MockOFDServer) -> None:
    r = requests.post(f"{mock_ofd.url}/ofd/v1/receipt", json={"document_id": "A"}, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "accepted"


def test_mock_http_fixture_and_registry(mock_http: MockHTTPServer) -> None:
    mock_http.expect_request("/v").respond_with_json({"v": 1})
    assert requests.get(f"{mock_http.url}/v", timeout=5).json() == {"v": 1}
    with MockRegistry() as registry:
        registry.add("payments", MockHTTPServer, app=make_payments_app())
        registry.add("ofd", MockOFDServer)
        registry.start()
        assert requests.post(f"{registry['payments'].url}/payments", json={"id": "x"}, timeout=5).status_code == 201


class StructEcho(GRPCMockServer):
    name = "struct-echo"

    def register_services(self, server: grpc.Server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(
            lambda req, ctx: req, request_deserializer=struct_pb2.Struct.FromString,
            response_serializer=struct_pb2.Struct.SerializeToString)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Echo", {"Echo": handler}),))


def test_grpc_journal_queries_by_metadata_and_message_subset() -> None:
    with StructEcho() as mock:
        channel = grpc.insecure_channel(mock.target)
        echo = channel.unary_unary("/t.Echo/Echo", request_serializer=struct_pb2.Struct.SerializeToString,
                                   response_deserializer=struct_pb2.Struct.FromString)
        for tenant, n in (("a", 1), ("b", 2)):
            msg = struct_pb2.Struct()
            msg.update({"order": {"n": n, "tag": "x"}})
            echo(msg, metadata=(("x-tenant", tenant),), timeout=5)
        channel.close()
        assert [c.headers["X-Tenant"] for c in mock.journal.find(path="/t.Echo/*")] == ["a", "b"]
        assert mock.journal.count_matching(json={"order": {"n": 2}}) == 1
        assert mock.journal.find(headers={"X-TENANT": "a"}, json={"order": {"tag": "x"}})[0].json["order"]["n"] == 1


@pytest.mark.parametrize("name", ["ofd", "otlp", "vllm", "teraslice", "mesh", "http"])
def test_every_builtin_http_mock_takes_stubs_routes_and_journal_queries(name: str) -> None:
    from mocktools.catalog import get_mock_class

    with get_mock_class(name)() as mock:
        mock.expect_request("/_extra/stub", method="GET").respond_with_json({"stub": name})

        @mock.route("/_extra/route", methods=["POST"])
        def extra():
            return {"route": request.get_json()["n"]}

        assert requests.get(f"{mock.url}/_extra/stub", timeout=5).json() == {"stub": name}
        assert httpx.post(f"{mock.url}/_extra/route", json={"n": 2}, timeout=5).json() == {"route": 2}
        assert mock.journal.count_matching(method="POST", json={"n": 2}, headers={"CONTENT-TYPE": "application/json"}) == 1
        mock.assert_request_made(uri="/_extra/stub", count=1)


def test_one_flask_app_behind_two_mocks_blames_the_right_one() -> None:
    app = make_payments_app()
    with MockHTTPServer(app=app) as first, MockHTTPServer(app=app) as second:
        assert requests.get(f"{first.url}/payments/none", timeout=5).status_code == 500
        assert second.errors == [] and len(first.errors) == 1
        first.reset()
