"""Small HTTP helpers every HTTP mock shares: routing, JSON in, JSON out."""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Iterable, Mapping

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import safe_json
from .errors import ApiError

Handler = Callable[..., Any]
JSON_TYPES = ("application/json",)


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), default=str)


def json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; non-JSON values (datetimes, ids) are rendered with str()."""
    return Response(json_dumps(obj), status=status, headers=dict(headers or {}), mimetype="application/json")


def read_json(request: Request) -> Any:
    """The request body as JSON: 415 for a non-JSON content type, 400 for a malformed body."""
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise ApiError(415, f"Content-Type must be application/json, got {mimetype or 'none'!r}",
                       type="unsupported_media_type")
    data = request.get_data(cache=True)
    if not data.strip():
        raise ApiError(400, "request body is empty; expected a JSON document", type="malformed_json")
    try:
        return safe_json.loads(data)
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON: {exc}", type="malformed_json") from None


def read_json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object: 415 / 400 as `read_json`, 422 for any other JSON value."""
    body = read_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, f"body must be a JSON object, got {type(body).__name__}", type="invalid_body")
    return body


def to_response(result: Any) -> Response:
    """Turn what a handler returned into a Response: a Response, JSON, or (body, status[, headers])."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        body, status, *rest = result
        headers = rest[0] if rest else None
        if isinstance(body, Response):
            body.status_code = status
            if headers:
                body.headers.update(headers)
            return body
        if isinstance(body, (str, bytes)):
            return Response(body, status=status, headers=headers)
        return json_response(body, status, headers)
    if isinstance(result, (str, bytes)):
        return Response(result)
    return json_response(result)


_MAP_CACHE: dict[tuple[tuple[str, tuple[str, ...]], ...], Map] = {}
_MAP_LOCK = threading.Lock()


def _compiled_map(spec: tuple[tuple[str, tuple[str, ...]], ...]) -> Map:
    """werkzeug compiles every rule (a few hundred microseconds each); mocks of one class share
    the same rules, so a compiled Map is built once per route table and reused."""
    with _MAP_LOCK:
        url_map = _MAP_CACHE.get(spec)
        if url_map is None:
            url_map = Map([Rule(rule, endpoint=i, methods=list(methods)) for i, (rule, methods) in enumerate(spec)],
                          strict_slashes=False, merge_slashes=False)
            _MAP_CACHE[spec] = url_map
        return url_map


class Router:
    """werkzeug URL rules mapped to handler callables."""

    def __init__(self) -> None:
        self._spec: list[tuple[str, tuple[str, ...]]] = []
        self._handlers: list[Handler] = []
        self._map: Map | None = None
        # engine work item (issue 15): exact (path, method) lookups for rules without converters,
        # so the common request skips werkzeug's Map binding (about a fifth of a receipt's CPU)
        self._static: dict[tuple[str, str], int] = {}
        self._inline: set[int] = set()  # handlers that never block (see `inline`)

    def add(self, rule: str, handler: Handler, methods: Iterable[str] = ("GET",), *, inline: bool = False) -> None:
        """Add a rule. `inline=True` promises the handler never blocks (no sleeps, no waits, no
        outbound calls, only short locks): an engine may then run it on its event loop thread."""
        self._spec.append((rule, tuple(m.upper() for m in methods)))
        self._handlers.append(handler)
        if inline:
            self._inline.add(len(self._handlers) - 1)
        self._map = None
        if "<" not in rule:
            for method in self._spec[-1][1] + (("HEAD",) if "GET" in self._spec[-1][1] else ()):
                self._static.setdefault((rule, method), len(self._handlers) - 1)

    def _url_map(self) -> Map:
        url_map = self._map
        if url_map is None:
            url_map = self._map = _compiled_map(tuple(self._spec))
        return url_map

    def match(self, environ: dict[str, Any]) -> tuple[Handler, dict[str, Any]]:
        """The handler and URL arguments for a request; raises werkzeug's NotFound/MethodNotAllowed."""
        static = self._static.get((environ.get("PATH_INFO") or "/", environ.get("REQUEST_METHOD", "GET")))
        if static is not None:
            return self._handlers[static], {}
        index, args = self._url_map().bind_to_environ(environ).match()
        return self._handlers[index], dict(args)

    def inline(self, environ: dict[str, Any]) -> bool:
        """Whether the request's route was added with `inline=True` (static rules only: a cheap probe)."""
        static = self._static.get((environ.get("PATH_INFO") or "/", environ.get("REQUEST_METHOD", "GET")))
        return static is not None and static in self._inline

    def wrap(self, rules: Iterable[str], wrapper: Callable[[Handler], Handler]) -> None:
        """Wrap the handlers of these rules in place (e.g. so they need a token); the rules stay."""
        wanted = set(rules)
        self._handlers = [wrapper(handler) if rule in wanted else handler
                          for (rule, _), handler in zip(self._spec, self._handlers)]

    def rules(self) -> list[tuple[str, list[str]]]:
        return [(r.rule, sorted(r.methods or ())) for r in self._url_map().iter_rules()]


__all__ = ["Router", "json_response", "json_dumps", "read_json", "read_json_object", "to_response",
           "HTTPException"]
