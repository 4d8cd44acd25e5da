"""TestDoubles: stubs, extra routes, scenarios and verification on every HTTP mock.

HTTPMockServer inherits this mixin; its `_dispatch` asks `dispatch_doubles()` first. The order a
request meets is: **stubs** (ordered, then one-shot, then permanent), then **routes the test
added** (`@mock.route`, Blueprints), then **the mock's own routes**. Nothing declared costs one
attribute check per request.
"""
from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from ..clock import SystemClock
from ..errors import MockError
from ..http_connection import abort_connection
from ..journal import CallQuery, CallRecord
from . import verify
from .matchers import UNDEFINED, RequestMatcher, RequestSnapshot, RequestView
from .nearmiss import PRESELECT, Unanswered, near_misses, summary
from .routes import UserRoutes
from .scenarios import Scenarios
from .stubs import ONESHOT, ORDERED, PERMANENT, RequestHandler, StubSet

UNANSWERED_LIMIT = 100


class ExpectationError(MockError, AssertionError):
    """Raised by `check()`: expectations left unmet, or requests nothing answered."""


class _BodyView(RequestView):
    """A RequestView that reads the body the HTTP layer already buffered, leaving the stream be."""

    __slots__ = ()

    @property
    def body(self) -> bytes:
        if self._body is None:
            stream = self._request.environ.get("wsgi.input")
            self._body = stream.getvalue() if isinstance(stream, io.BytesIO) else self._request.get_data(cache=True)
        return self._body


class TestDoubles:
    """Stubs (pytest-httpserver's verbs), Flask-style routes, scenarios and verification."""

    __test__ = False  # not a pytest test class, whatever its name says
    if TYPE_CHECKING:  # what the mixin uses of the HTTPMockServer it is mixed into
        from ..clock import Clock
        from ..control_api import AdminAPI
        from ..journal import Journal
        from ..listeners.http import HTTPListener
        from ..routing import Router

        name: ClassVar[str]
        url: str
        clock: Clock
        stopping: threading.Event
        journal: Journal
        router: Router
        admin: AdminAPI
        http_listener: HTTPListener

        def error_response(self, status: int, message: str, *, type: str | None = None,
                           headers: Any = None, **extra: Any) -> Response: ...
        def record_error(self, exc: BaseException) -> None: ...
    #: answer 404 with near misses, and fail `check()`, for requests nothing answered
    strict_unanswered: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._doubles_lock = threading.RLock()
        self._ordered: list[RequestHandler] = []
        self._oneshot = StubSet()
        self._permanent = StubSet()
        self._spent: list[RequestHandler] = []
        self._stub_seq = 0
        self._stubbed = False
        self._unanswered: list[Unanswered] = []
        self._order_errors: list[str] = []
        self._reported: set[int] = set()
        self.scenarios = Scenarios()
        self.user_routes = UserRoutes(self)
        self._double_admin_installed = False
        self._doubles_active = bool(self.strict_unanswered)

    # -- declaring stubs ---------------------------------------------------------------------
    def expect_request(self, uri: Any = None, method: str | None = None, data: str | bytes | None = None,
                       data_encoding: str = "utf-8", headers: dict[str, Any] | None = None,
                       query_string: Any = None, handler_type: str = PERMANENT, json: Any = UNDEFINED,
                       predicate: Callable[[Any], bool] | None = None, name: str | None = None) -> RequestHandler:
        """A stub answered whenever a request matches (until `reset()`); chain `respond_with_*`."""
        if isinstance(uri, str) and "?" in uri and query_string is None:
            uri, query_string = uri.split("?", 1)  # "/items?page=2": the path, and the query exactly
        matcher = RequestMatcher(uri, method, query_string, headers, data, data_encoding, json, predicate)
        return self.add_stub(matcher, getattr(handler_type, "value", handler_type), name)

    def expect_oneshot_request(self, uri: Any = None, **kwargs: Any) -> RequestHandler:
        """A stub answered once; `check()` fails if no request used it."""
        return self.expect_request(uri, handler_type=ONESHOT, **kwargs)

    def expect_ordered_request(self, uri: Any = None, **kwargs: Any) -> RequestHandler:
        """A stub answered once, in the order declared; a request for a later one fails `check()`."""
        return self.expect_request(uri, handler_type=ORDERED, **kwargs)

    def add_stub(self, matcher: RequestMatcher, kind: str = PERMANENT, name: str | None = None) -> RequestHandler:
        if kind not in (PERMANENT, ONESHOT, ORDERED):
            raise ValueError(f"handler_type must be one of {(PERMANENT, ONESHOT, ORDERED)}")
        with self._doubles_lock:
            self._stub_seq += 1
            stub = RequestHandler(matcher, kind, self._stub_seq, name, self.wait_on_clock)
            if kind == ORDERED:
                self._ordered.append(stub)
            else:
                (self._oneshot if kind == ONESHOT else self._permanent).add(stub)
            self._stubbed = True
        self._doubles_changed()
        return stub

    def url_for(self, suffix: str) -> str:
        """The mock's URL for a path (pytest-httpserver's name)."""
        return f"{self.url}{suffix if suffix.startswith('/') else '/' + suffix}"

    def stubs(self) -> list[RequestHandler]:
        """Every stub still able to answer, in the order they are tried."""
        with self._doubles_lock:
            return list(self._ordered) + list(self._oneshot) + list(self._permanent)

    def clear_stubs(self) -> None:
        with self._doubles_lock:
            self._ordered.clear()
            self._oneshot.clear()
            self._permanent.clear()
            self._spent.clear()
        self._doubles_changed()

    # -- extra routes (Flask's verbs) --------------------------------------------------------
    def route(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`@mock.route("/path", methods=["POST"])`: a Flask view served beside the mock's routes."""
        return self.user_routes.route(rule, **options)

    def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: Callable[..., Any] | None = None,
                     **options: Any) -> None:
        self.user_routes.add_url_rule(rule, endpoint, view_func, **options)

    def register_blueprint(self, blueprint: Any, **options: Any) -> None:
        self.user_routes.register_blueprint(blueprint, **options)

    # -- the request path --------------------------------------------------------------------
    def _doubles_changed(self) -> None:
        self._doubles_active = bool(self.strict_unanswered or self._stubbed or self.user_routes)

    def dispatch_doubles(self, request: Request, environ: dict[str, Any]) -> Response | None:
        """Stubs, then user routes; None lets the mock's own routes answer."""
        if not self._doubles_active:
            return None
        view = _BodyView(request)
        if self._stubbed:
            with self._doubles_lock:
                stub, problem = self._doubles_select(view)
                responder = stub.take_responder() if stub is not None else None
            if stub is not None:
                return self._doubles_answer(stub, responder, view, request, environ)
            if problem is not None:  # kept for check() by _doubles_select
                environ["mocktools.meta"] = {**(environ.get("mocktools.meta") or {}), "out_of_order": True}
                return self.error_response(500, problem, type="out_of_order")
        routes = self.user_routes
        if routes and routes.handles(environ):
            return routes.serve(request, environ)
        if self.has_own_route(environ) or not (self.strict_unanswered or self._stubbed):
            return None
        return self.unanswered_response(view.snapshot(), environ)

    def has_own_route(self, environ: dict[str, Any]) -> bool:
        """Whether the mock's own routes answer this request (a wrong method counts as an answer)."""
        try:
            self.router.match(environ)
        except MethodNotAllowed:
            return True
        except NotFound:
            return False
        return True

    def _doubles_select(self, view: RequestView) -> tuple[RequestHandler | None, str | None]:
        scenarios = self.scenarios
        stub: RequestHandler | None = None
        if self._ordered:
            head = self._ordered[0]
            if head.matches(view, scenarios):
                stub = self._ordered.pop(0)
            else:
                for later in self._ordered[1:]:
                    if later.matches(view, scenarios):
                        message = (f"{view.method} {view.path} matched ordered stub {later.describe()} "
                                   f"but {head.describe()} was expected first")
                        self._order_errors.append(message)
                        return None, message
        if stub is None:
            stub = self._oneshot.find(view, scenarios)
            if stub is not None:
                self._oneshot.remove(stub)
        if stub is None:
            stub = self._permanent.find(view, scenarios)
        if stub is None:
            return None, None
        if stub.kind != PERMANENT:
            self._spent.append(stub)
        if stub.scenario is not None and stub.new_state is not None:
            self.scenarios.move(stub.scenario, stub.required_state, stub.new_state)
        return stub, None

    def _doubles_answer(self, stub: RequestHandler, responder: Any, view: RequestView, request: Request,
                environ: dict[str, Any]) -> Response:
        environ["mocktools.meta"] = {**(environ.get("mocktools.meta") or {}), "stub": stub.name}
        if stub.latency:
            self.wait_on_clock(stub.latency)
        if stub.fault:
            self.http_listener._record(environ, view.path, view.body, None, time.perf_counter(),
                                       f"connection:{stub.fault}")
            abort_connection(environ, stub.fault)
        if responder is None:
            return self.error_response(500, f"{stub.describe()} has no response; call respond_with_*()",
                                       type="stub_without_response")
        try:
            response: Response = responder(request)
        except Exception as exc:  # noqa: BLE001 - the test's own handler raised: answer 500, fail check()
            self.record_error(exc)
            return self.error_response(500, f"stub {stub.name} handler raised {type(exc).__name__}: {exc}",
                                       type="stub_handler_error")
        return response  # the listener guards a streamed body

    def wait_on_clock(self, seconds: float) -> None:
        """Wait on the mock's clock: real time ends early when the mock stops; a FakeClock moves on."""
        if seconds > 0:
            if isinstance(self.clock, SystemClock):
                self.stopping.wait(seconds)
            else:
                self.clock.sleep(seconds)

    # -- requests nothing answered -----------------------------------------------------------
    def stub_candidates(self, path: str | None = None) -> Iterable[tuple[Any, RequestMatcher, list[Any]]]:
        """(label, matcher, extra differences) of the stubs worth comparing with a request to
        `path`: all of them, or past PRESELECT stubs those whose paths sort next to it."""
        scenarios = self.scenarios
        with self._doubles_lock:
            if path is None or len(self._oneshot) + len(self._permanent) <= PRESELECT:
                stubs = self.stubs()
            else:
                stubs = list(self._ordered) + self._oneshot.near(path, PRESELECT) + self._permanent.near(path, PRESELECT)
        for stub in stubs:
            extra = []
            if stub.scenario is not None and stub.required_state is not None:
                state = scenarios.get(stub.scenario)
                if state != stub.required_state:
                    extra.append(("scenario", f"{stub.scenario!r} in {stub.required_state!r}", repr(state), 1.0))
            yield stub.describe, stub.matcher, extra

    def unanswered_response(self, snapshot: RequestSnapshot, environ: dict[str, Any], *,
                            candidates: Iterable[Any] | None = None, reason: str = "no stub or route matched",
                            status: int = 404, type: str = "no_stub_matched") -> Response:
        """Answer a request nothing matched: a 4xx naming the closest candidate, kept for `check()`."""
        entry = self._remember_unanswered(snapshot, reason, environ, candidates)
        closest = entry.misses[0] if entry.misses else None
        return self.error_response(status, f"{reason}: {snapshot.describe()}; {summary(closest)}", type=type,
                                   near_misses=[m.to_dict() for m in entry.misses])

    def _remember_unanswered(self, snapshot: RequestSnapshot, reason: str, environ: dict[str, Any],
                             candidates: Iterable[Any] | None = None) -> Unanswered:
        misses = near_misses(snapshot, self.stub_candidates(snapshot.path) if candidates is None else candidates)
        entry = Unanswered(snapshot, reason, misses)
        environ["mocktools.meta"] = {**(environ.get("mocktools.meta") or {}), "unmatched": True}
        with self._doubles_lock:
            if len(self._unanswered) < UNANSWERED_LIMIT:
                self._unanswered.append(entry)
        return entry

    @property
    def unanswered(self) -> list[Unanswered]:
        """Requests nothing answered since the last `check()` or `reset()`, with their near misses."""
        with self._doubles_lock:
            return list(self._unanswered)

    # -- verification ------------------------------------------------------------------------
    def assert_request_made(self, matcher: RequestMatcher | None = None, *, count: int | None = None,
                            **criteria: Any) -> list[CallRecord]:
        """Assert requests matching were received (`count`: exactly that many; None: at least one)."""
        return verify.assert_request_made(self.journal.calls(), matcher, count, criteria)

    def assert_no_request_made(self, matcher: RequestMatcher | None = None, **criteria: Any) -> None:
        verify.assert_request_made(self.journal.calls(), matcher, 0, criteria)

    def get_matching_requests(self, matcher: RequestMatcher | None = None, **criteria: Any) -> list[CallRecord]:
        m = verify.matcher_from(matcher, criteria)
        return [r for r in self.journal.calls() if m.match(r)]

    def get_matching_requests_count(self, matcher: RequestMatcher | None = None, **criteria: Any) -> int:
        return len(self.get_matching_requests(matcher, **criteria))

    def find_calls(self, **criteria: Any) -> list[CallRecord]:
        """Journal query by method, path, query, headers, json subset, body, status (see Journal.find)."""
        return self.journal.find(CallQuery(**criteria))

    def unmet_expectations(self) -> list[RequestHandler]:
        """One-shot and ordered stubs no request has used yet."""
        with self._doubles_lock:
            return list(self._ordered) + list(self._oneshot)

    def check_assertions(self) -> None:
        """Fail (once) for unmet one-shot/ordered stubs, out-of-order and unanswered requests."""
        with self._doubles_lock:
            unmet = [s for s in self.unmet_expectations() if s.seq not in self._reported]
            self._reported.update(s.seq for s in unmet)
            unanswered, self._unanswered = self._unanswered, []
            order, self._order_errors = self._order_errors, []
        report = verify.expectation_report(self.name, unmet, unanswered, order)
        if report:
            raise ExpectationError(report)

    def check(self) -> None:
        """Handler errors first (as every mock), then unmet expectations and unanswered requests."""
        super().check()  # type: ignore[misc]
        self.check_assertions()

    def check_handler_errors(self) -> None:
        """Only the handler errors part of `check()` (pytest-httpserver's name)."""
        super().check()  # type: ignore[misc]

    def clear(self) -> None:
        """pytest-httpserver's name for `reset()`: stubs, journal, errors and faults all go."""
        self.reset()

    def reset(self) -> None:
        """Also drop stubs, added routes, scenario states and the unanswered list."""
        super().reset()  # type: ignore[misc]
        with self._doubles_lock:
            self._ordered.clear()
            self._oneshot.clear()
            self._permanent.clear()
            self._spent.clear()
            self._unanswered.clear()
            self._order_errors.clear()
            self._reported.clear()
            self._stubbed = False
        self.scenarios.forget()
        self.user_routes.clear()
        self._doubles_changed()

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = super().status()  # type: ignore[misc]
        with self._doubles_lock:
            status["doubles"] = {"stubs": len(self._ordered) + len(self._oneshot) + len(self._permanent),
                                 "unmet": len(self._ordered) + len(self._oneshot),
                                 "unanswered": len(self._unanswered), "routes": bool(self.user_routes),
                                 "scenarios": self.scenarios.all()}
        return status

    def start(self) -> Any:
        if not self._double_admin_installed:
            from .admin import install_admin_routes

            install_admin_routes(self)
            self._double_admin_installed = True
        return super().start()  # type: ignore[misc]


__all__ = ["UNANSWERED_LIMIT", "ExpectationError", "TestDoubles"]
