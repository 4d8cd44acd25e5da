"""/_mock/ routes for test doubles: stubs, scenarios, unanswered requests and journal queries.

Another process (or a test in another language) declares a stub with a JSON document:
`{"request": {"method": "GET", "path": "/x"}, "response": {"status": 200, "json": {...}}}`.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..control_schema import read_body as _optional_json
from ..errors import ApiError
from ..journal import CallQuery
from .matchers import UNDEFINED, JSONSubset, RequestMatcher
from .stubs import PERMANENT, RequestHandler

if TYPE_CHECKING:
    from .mixin import TestDoubles

_REQUEST_FIELDS = {"method", "path", "path_regex", "query", "query_string", "headers", "json", "json_subset", "body"}
_RESPONSE_FIELDS = {"status", "json", "body", "headers", "content_type"}
_STUB_FIELDS = {"request", "response", "responses", "kind", "latency", "fault", "scenario", "name"}


def _object(body: dict[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise ApiError(422, f"{key!r} must be a JSON object", type="invalid_body", field=key)
    unknown = set(value) - allowed
    if unknown:
        raise ApiError(400, f"unknown fields in {key!r}: {sorted(unknown)}; allowed: {sorted(allowed)}",
                       type="bad_request", field=key)
    return value


def _regex(value: Any, field: str) -> re.Pattern[str]:
    try:
        return re.compile(str(value))
    except re.error as exc:
        raise ApiError(400, f"{field} is not a valid regular expression: {exc}", type="bad_request",
                       field=field) from None


_TYPES: dict[str, tuple[type, ...]] = {"method": (str,), "path": (str,), "path_regex": (str,), "query": (str, dict),
                                       "query_string": (str, dict), "headers": (dict,), "body": (str,)}


def matcher_from_json(spec: dict[str, Any]) -> RequestMatcher:
    for name, types in _TYPES.items():
        if name in spec and not isinstance(spec[name], types):
            kinds = " or ".join("an object" if t is dict else "a string" for t in types)
            raise ApiError(422, f"request.{name} must be {kinds}", type="invalid_body", field=f"request.{name}")
    for name in ("headers", "query", "query_string"):
        value = spec.get(name)
        if isinstance(value, dict) and not all(isinstance(v, (str, int, float, list)) for v in value.values()):
            raise ApiError(422, f"request.{name} values must be strings", type="invalid_body", field=f"request.{name}")
    uri: Any = spec.get("path")
    if "path_regex" in spec:
        uri = _regex(spec["path_regex"], "request.path_regex")
    json_value: Any = UNDEFINED
    if "json" in spec:
        json_value = spec["json"]
    if "json_subset" in spec:
        json_value = JSONSubset(spec["json_subset"])
    query = spec.get("query", spec.get("query_string"))
    return RequestMatcher(uri, spec.get("method"), query, spec.get("headers"), spec.get("body"), json=json_value)


def _response_item(spec: dict[str, Any]) -> Any:
    status = spec.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ApiError(422, "response.status must be an HTTP status code", type="invalid_body", field="response.status")
    headers = dict(spec.get("headers") or {})
    if "json" in spec:
        from ..routing import json_response

        return json_response(spec["json"], status, headers)
    from werkzeug.wrappers import Response

    return Response(spec.get("body", ""), status, headers, content_type=spec.get("content_type"))


def stub_from_json(mock: TestDoubles, body: dict[str, Any]) -> RequestHandler:
    unknown = set(body) - _STUB_FIELDS
    if unknown:
        raise ApiError(400, f"unknown fields: {sorted(unknown)}; allowed: {sorted(_STUB_FIELDS)}", type="bad_request")
    matcher = matcher_from_json(_object(body, "request", _REQUEST_FIELDS))
    items = body.get("responses")
    if items is not None and (not isinstance(items, list) or not items):
        raise ApiError(422, "responses must be a non-empty list", type="invalid_body", field="responses")
    responses = [_response_item(_object({"r": item}, "r", _RESPONSE_FIELDS)) for item in items or []]
    if not responses:
        responses = [_response_item(_object(body, "response", _RESPONSE_FIELDS))]
    try:
        stub = mock.add_stub(matcher, body.get("kind", PERMANENT), body.get("name"))
        stub.respond_with_sequence(responses)
        if body.get("latency"):
            stub.with_latency(float(body["latency"]))
        if body.get("fault"):
            stub.with_fault(body["fault"])
        scenario = body.get("scenario")
        if scenario:
            stub.in_scenario(scenario["name"], scenario.get("state", "Started"), scenario.get("new_state"))
    except (TypeError, ValueError, KeyError) as exc:
        raise ApiError(400, f"invalid stub: {exc}", type="bad_request") from None
    return stub


def install_admin_routes(mock: TestDoubles) -> None:
    """Add the doubles' routes to a mock's /_mock/ API (once, before it starts)."""
    router = mock.admin.router

    def stubs(request: Request) -> Any:
        if request.method == "DELETE":
            mock.clear_stubs()
            return {"ok": True}
        if request.method == "POST":
            stub = stub_from_json(mock, _optional_json(request))
            return stub.to_dict(), 201
        return {"stubs": [s.to_dict() for s in mock.stubs()],
                "unmet": [s.name for s in mock.unmet_expectations()]}

    def scenarios(request: Request) -> Any:
        return {"scenarios": mock.scenarios.all()}

    def scenario(request: Request, name: str) -> Any:
        if request.method in ("PUT", "POST"):
            body = _optional_json(request)
            state = body.get("state")
            if not isinstance(state, str) or not state:
                raise ApiError(422, "state must be a non-empty string", type="invalid_body", field="state")
            mock.scenarios.set(name, state)
        return {"name": name, "state": mock.scenarios.get(name)}

    def reset_scenarios(request: Request) -> Any:
        mock.scenarios.reset()
        return {"scenarios": mock.scenarios.all()}

    def unmatched(request: Request) -> Any:
        return {"unanswered": [u.to_dict() for u in mock.unanswered]}

    def find(request: Request) -> Any:
        body = _optional_json(request)
        allowed = {"method", "path", "path_regex", "query", "headers", "json", "status", "limit"}
        unknown = set(body) - allowed
        if unknown:
            raise ApiError(400, f"unknown fields: {sorted(unknown)}; allowed: {sorted(allowed)}", type="bad_request")
        criteria = {k: v for k, v in body.items() if k in {"method", "path", "query", "headers", "json", "status"}}
        if "path_regex" in body:
            criteria["path"] = _regex(body["path_regex"], "path_regex")
        limit = body.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ApiError(422, "limit must be a non-negative integer", type="invalid_body", field="limit")
        found = mock.journal.find(CallQuery(**criteria))
        return {"count": len(found), "calls": [r.to_dict() for r in found[-limit:]] if limit else []}

    router.add("/_mock/stubs", stubs, methods=["GET", "POST", "DELETE"])
    router.add("/_mock/scenarios", scenarios)
    router.add("/_mock/scenarios/reset", reset_scenarios, methods=["POST"])
    router.add("/_mock/scenarios/<name>", scenario, methods=["GET", "PUT", "POST"])
    router.add("/_mock/unmatched", unmatched)
    router.add("/_mock/calls/find", find, methods=["POST"])


__all__ = ["install_admin_routes", "matcher_from_json", "stub_from_json"]
