"""Small HTTP helpers every HTTP mock shares: routing, JSON in, JSON out."""
from __future__ import annotations

import json
import threading
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring_ascii as _encode_ascii
from typing import Any, Callable, ClassVar, Iterable, Mapping

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import safe_json
from .errors import ApiError

Handler = Callable[..., Any]
JSON_TYPES = ("application/json",)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def _ENCODE(obj: Any) -> str:  # noqa: N802 - the name the mocks import
    """What json.dumps(obj, separators=(",", ":"), default=str) does, straight to the C encoder
    `JSONEncoder.encode` would build (its two Python layers cost a tenth of a chat answer's JSON)."""
    if _c_make_encoder is None or isinstance(obj, str):
        return _ENCODER.encode(obj)
    return "".join(_c_make_encoder({}, str, _encode_ascii, None, ":", ",", False, False, True)(obj, 0))


def json_dumps(obj: Any) -> str:
    return _ENCODE(obj)


def json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; non-JSON values (datetimes, ids) are rendered with str()."""
    return Response(_ENCODE(obj), status=status, headers=dict(headers or {}), mimetype="application/json")


class LazyRequest(Request):
    """A werkzeug Request that builds itself on first use (issue 15: most of the mocks' own
    routes read only the body and the content type, which come straight from the environ).

    It is a real `Request` (isinstance holds); any attribute werkzeug sets in `__init__` runs
    that `__init__` on first access. `get_data` answers from the body the HTTP listener has
    already buffered (`environ["mocktools.body"]`)."""

    def __init__(self, environ: dict[str, Any]) -> None:  # noqa: D107 - the real __init__ runs lazily
        self.__dict__["environ"] = environ
        self.__dict__["shallow"] = False

    def __getattr__(self, name: str) -> Any:
        if name in _DEFERRED and "method" not in self.__dict__:
            Request.__init__(self, self.environ)
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_data(self, cache: bool = True, as_text: bool = False,  # type: ignore[override]
                 parse_form_data: bool = False) -> bytes | str:
        body = self.environ.get("mocktools.body")
        if body is None or parse_form_data or "_cached_data" in self.__dict__:
            return super().get_data(cache, as_text, parse_form_data)  # type: ignore[call-overload,no-any-return]
        return body.decode(errors="replace") if as_text else body  # type: ignore[no-any-return]


_DEFERRED = frozenset({"method", "scheme", "server", "root_path", "path", "query_string", "headers", "remote_addr"})


def mimetype_of(environ: Mapping[str, Any]) -> str:
    """The request's media type, lower case, without parameters (werkzeug's `Request.mimetype`)."""
    return str(environ.get("CONTENT_TYPE") or "").partition(";")[0].strip().lower()


def read_json(request: Request) -> Any:
    """The request body as JSON: 415 for a non-JSON content type, 400 for a malformed body."""
    mimetype = mimetype_of(request.environ)
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise ApiError(415, f"Content-Type must be application/json, got {mimetype or 'none'!r}",
                       type="unsupported_media_type")
    data = request.get_data(cache=True)
    if not data or data.isspace():  # (what `not data.strip()` says, without copying the body)
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


class JSONAnswer:
    """A plain JSON answer served without werkzeug's Response machinery (issue 15: a quarter of
    a receipt's CPU went to building and serializing Response objects). On the wire it is what
    `json_response` sends: the same status line, Content-Type and Content-Length."""

    __slots__ = ("body", "status_code")
    is_streamed: ClassVar[bool] = False
    _STATUS: ClassVar[dict[int, str]] = {}

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.body = body
        self.status_code = status_code

    @property
    def status(self) -> str:
        line = self._STATUS.get(self.status_code)
        if line is None:
            line = self._STATUS[self.status_code] = Response(status=self.status_code).status
        return line

    def get_json(self) -> Any:
        return json.loads(self.body)

    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(self.status, [("Content-Type", "application/json"), ("Content-Length", str(len(self.body)))])
        return () if environ.get("REQUEST_METHOD") == "HEAD" else (self.body,)


def answer(result: Any) -> Response | JSONAnswer:
    """What `to_response` gives, except that a handler's plain JSON value (a dict or list, with
    status 200) becomes a lean `JSONAnswer`; for the serving path, which only sends it."""
    if type(result) is dict or type(result) is list:
        return JSONAnswer(_ENCODE(result).encode())
    if type(result) is JSONAnswer:  # a handler that wrote its JSON itself
        return result
    return to_response(result)


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


__all__ = ["HTTPException", "JSONAnswer", "LazyRequest", "Router", "answer", "json_dumps", "json_response",
           "mimetype_of", "read_json", "read_json_object", "to_response"]
