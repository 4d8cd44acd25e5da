"""schemathesis against every mock's own /_mock/openapi.json (issue 13): valid inputs for every
route and invalid bodies for every route that takes one, generated from the declared schemas,
bounded examples, derandomized. No answer is a 5xx, no call hangs, and nothing the fuzzer sends
becomes the user's `check()` error. (Invalid query values: test_core_control_schema.py.)"""
from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from mocktools import FakeClock, HTTPMockServer
from mocktools.catalog import CATALOG, get_mock_class

EXAMPLES = 6
#: operations left out: they reach outside the mock (an OTLP export POSTs to the given URL)
SKIP = {("POST", "/_mock/mesh/export")}
#: values kept small so a fuzzed call stays quick (the schemas allow larger ones)
SMALL = {"timeout": 0.01, "replicas": 1, "nodes": 3, "seconds": 1.0, "stall_seconds": 0.01}


def _shrink(case: Any) -> Any:
    if case.operation.path.endswith("/wait"):  # the default wait is 5 s
        if not isinstance(case.body, (dict, list, str, int, float, bool)) and case.body is not None:
            case.body = {}  # no body at all: the defaults apply
        if isinstance(case.body, dict):
            case.body.setdefault("timeout", SMALL["timeout"])
    if isinstance(case.body, dict):
        for key, small in SMALL.items():
            value = case.body.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > small:
                case.body[key] = small
    return case


def _fuzz(op: Any, mode: GenerationMode, base: str, session: requests.Session, failures: list[str]) -> None:
    """Up to EXAMPLES generated calls of one operation; 5xx answers are collected in `failures`."""
    @given(case=op.as_strategy(generation_mode=mode).map(_shrink))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(base_url=base, session=session, timeout=10)
        if response.status_code >= 500:
            failures.append(f"{op.method.upper()} {op.path} {mode.value}: {response.status_code} "
                            f"{response.text[:200]} for body={case.body!r} query={case.query!r}")

    try:
        run()
    except Unsatisfiable:  # no input to get wrong (e.g. GET /_mock): nothing negative to send
        assert mode is GenerationMode.NEGATIVE


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("name", list(CATALOG))
def test_schemathesis_finds_no_server_error_in_the_control_api(name: str, mode: GenerationMode) -> None:
    cls = get_mock_class(name)
    kwargs: dict[str, Any] = {} if issubclass(cls, HTTPMockServer) else {"admin_port": 0}
    mock = cls(clock=FakeClock(), seed=1, **kwargs).start()
    session = requests.Session()
    try:
        base = getattr(mock, "admin_url", None) or mock.url
        doc = session.get(f"{base}/_mock/openapi.json", timeout=5).json()
        schema = schemathesis.openapi.from_dict(doc)
        failures: list[str] = []
        for result in schema.get_all_operations():
            op = result.ok()  # type: ignore[union-attr]
            if (op.method.upper(), op.path) in SKIP:
                continue
            if mode is GenerationMode.NEGATIVE and "requestBody" not in doc["paths"][op.path][op.method.lower()]:
                continue  # query strings: every value is a string; the typed ones are tested by hand
            _fuzz(op, mode, base, session, failures)
        assert failures == []
        control_errors = session.get(f"{base}/_mock/control-errors", timeout=5).json()["errors"]
        assert control_errors == []
    finally:
        session.close()
        mock.stop()
    mock.check()  # nothing sent to the control API is the user's handler error
