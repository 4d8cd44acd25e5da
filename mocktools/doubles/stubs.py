"""Stubs: a matcher plus what to answer, and an index that finds the right one in O(1).

Stubs with an exact path are indexed by (method, path); only pattern stubs (regex, custom URI
matchers, any path) are scanned, so 10,000 exact stubs cost one dict lookup per request. Among
stubs of one kind the first registered wins, as in pytest-httpserver.
"""
from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..faults import CONNECTION_FAULTS
from ..routing import to_response
from .matchers import RequestMatcher

if TYPE_CHECKING:
    from .scenarios import Scenarios

PERMANENT, ONESHOT, ORDERED = "permanent", "oneshot", "ordered"
Responder = Callable[[Request], Response]


def _responder(item: Any) -> Responder:
    """One response of a sequence: a Response, a JSON-able value, text/bytes, a tuple or a callable."""
    if isinstance(item, Response):
        return lambda request: item
    if callable(item):
        return lambda request: to_response(item(request))
    if isinstance(item, (str, bytes)):
        return lambda request: Response(item)
    if isinstance(item, tuple):
        return lambda request: to_response(item)
    return lambda request: Response(json.dumps(item), content_type="application/json")


class RequestHandler:
    """One stub (pytest-httpserver's name): a matcher and the response(s) it gives."""

    def __init__(self, matcher: RequestMatcher, kind: str = PERMANENT, seq: int = 0, name: str | None = None,
                 wait: Callable[[float], None] | None = None) -> None:
        self.matcher = matcher
        self._wait = wait or (lambda seconds: None)  # the mock's clock, for streamed responses
        self.kind = kind
        self.seq = seq
        self.name = name or f"stub-{seq}"
        self._responders: list[Responder] = []
        self._cycle = False
        self.latency = 0.0
        self.fault: str | None = None
        self.scenario: str | None = None
        self.required_state: str | None = None
        self.new_state: str | None = None
        self.calls = 0

    # -- what to answer (pytest-httpserver's verbs) --------------------------------------------
    def respond_with_json(self, response_json: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                          content_type: str = "application/json") -> RequestHandler:
        body = json.dumps(response_json)
        self._responders = [lambda request: Response(body, status, dict(headers or {}), content_type=content_type)]
        return self

    def respond_with_data(self, response_data: str | bytes = "", status: int = 200,
                          headers: Mapping[str, str] | None = None, mimetype: str | None = None,
                          content_type: str | None = None) -> RequestHandler:
        self._responders = [lambda request: Response(response_data, status, dict(headers or {}),
                                                     mimetype=mimetype, content_type=content_type)]
        return self

    def respond_with_response(self, response: Response) -> RequestHandler:
        self._responders = [lambda request: response]
        return self

    def respond_with_handler(self, func: Callable[[Request], Any]) -> RequestHandler:
        """`func(request)` answers: a Response, JSON-able data, text, or (body, status[, headers])."""
        self._responders = [lambda request: to_response(func(request))]
        return self

    def respond_with_stream(self, chunks: Sequence[str | bytes], *, interval: float = 0.0, status: int = 200,
                            headers: Mapping[str, str] | None = None,
                            content_type: str = "text/event-stream") -> RequestHandler:
        """Stream `chunks` (SSE events, NDJSON lines, ...) chunked, waiting `interval` seconds on
        the mock's clock before each one; a FakeClock moves on instead of sleeping."""
        if interval < 0:
            raise ValueError("interval must be >= 0")
        items = [c.encode() if isinstance(c, str) else c for c in chunks]
        wait = self._wait

        def stream() -> Iterator[bytes]:
            for item in items:
                if interval:
                    wait(interval)
                yield item

        self._responders = [lambda request: Response(stream(), status, dict(headers or {}), content_type=content_type)]
        return self

    def respond_with_sequence(self, responses: Sequence[Any], *, cycle: bool = False) -> RequestHandler:
        """Answer each call with the next response; after the last, repeat it (or start over)."""
        if not responses:
            raise ValueError("a response sequence needs at least one response")
        self._responders = [_responder(item) for item in responses]
        self._cycle = cycle
        return self

    # -- how to answer -------------------------------------------------------------------------
    def with_latency(self, seconds: float) -> RequestHandler:
        """Wait `seconds` on the mock's clock before answering (a FakeClock just moves on)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self.latency = float(seconds)
        return self

    def with_fault(self, kind: str | None) -> RequestHandler:
        """Drop the connection instead of answering: `reset`, `close` or `garbage`."""
        if kind is not None and kind not in CONNECTION_FAULTS:
            raise ValueError(f"fault must be one of {CONNECTION_FAULTS}")
        self.fault = kind
        return self

    def in_scenario(self, name: str, state: str | None = "Started", new_state: str | None = None) -> RequestHandler:
        """Match only while scenario `name` is in `state` (None: any state); a match moves it to
        `new_state` (WireMock's inScenario / whenScenarioStateIs / willSetStateTo)."""
        self.scenario, self.required_state, self.new_state = name, state, new_state
        return self

    # -- matching ------------------------------------------------------------------------------
    def matches(self, req: Any, scenarios: Scenarios) -> bool:
        if self.scenario is not None and self.required_state is not None \
                and scenarios.get(self.scenario) != self.required_state:
            return False
        return self.matcher.match(req)

    def take_responder(self) -> Responder | None:
        """The responder for this call (the caller holds the stub lock)."""
        index = self.calls
        self.calls += 1
        responders = self._responders
        if not responders:
            return None
        if index >= len(responders):
            index = index % len(responders) if self._cycle else len(responders) - 1
        return responders[index]

    def describe(self) -> str:
        extra = f" [scenario {self.scenario!r} in {self.required_state!r}]" if self.scenario else ""
        return f"{self.kind} {self.name}: {self.matcher.describe()}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "matcher": self.matcher.describe(), "calls": self.calls,
                "latency": self.latency, "fault": self.fault, "scenario": self.scenario,
                "required_state": self.required_state, "new_state": self.new_state}

    def __repr__(self) -> str:
        return f"<RequestHandler {self.describe()}>"


class StubSet:
    """Stubs of one kind: exact (method, path) stubs in a dict, pattern stubs in a list."""

    def __init__(self) -> None:
        self._exact: dict[tuple[str | None, str], list[RequestHandler]] = {}
        self._patterns: list[RequestHandler] = []
        self._count = 0
        self._sorted: Any = None  # the exact keys sorted by path and by reversed path, for near()

    def add(self, stub: RequestHandler) -> None:
        key = stub.matcher.index_key
        if key is None:
            self._patterns.append(stub)
        else:
            self._exact.setdefault(key, []).append(stub)
            self._sorted = None
        self._count += 1

    def remove(self, stub: RequestHandler) -> None:
        key = stub.matcher.index_key
        bucket = self._patterns if key is None else self._exact.get(key, [])
        bucket.remove(stub)
        if key is not None and not bucket:
            del self._exact[key]
            self._sorted = None
        self._count -= 1

    def find(self, req: Any, scenarios: Scenarios) -> RequestHandler | None:
        """The first-registered stub that matches, or None."""
        best: RequestHandler | None = None
        exact = self._exact
        if exact:
            path = req.path
            for key in ((req.method, path), (None, path)):
                for stub in exact.get(key, ()):
                    if stub.matches(req, scenarios):
                        if best is None or stub.seq < best.seq:
                            best = stub
                        break
        for stub in self._patterns:
            if best is not None and stub.seq > best.seq:
                break
            if stub.matches(req, scenarios):
                return stub
        return best

    def near(self, path: str, k: int) -> list[RequestHandler]:
        """About `k` stubs whose exact paths sort next to `path`, forwards and backwards (so share
        its longest prefixes or suffixes), plus the first pattern stubs: the candidates worth a
        near-miss comparison when there are too many to compare them all."""
        if self._sorted is None:
            forward = sorted(self._exact, key=lambda key: key[1])
            backward = sorted(self._exact, key=lambda key: key[1][::-1])
            self._sorted = ([key[1] for key in forward], forward, [key[1][::-1] for key in backward], backward)
        paths, forward, rpaths, backward = self._sorted
        chosen: dict[tuple[str | None, str], None] = {}
        for keys, sorted_paths, probe in ((forward, paths, path), (backward, rpaths, path[::-1])):
            at = bisect.bisect_left(sorted_paths, probe)
            chosen.update(dict.fromkeys(keys[max(0, at - k // 4): at + k // 4]))
        return [s for key in chosen for s in self._exact[key]] + self._patterns[:k]

    def __iter__(self) -> Iterator[RequestHandler]:
        stubs = [s for bucket in self._exact.values() for s in bucket] + self._patterns
        return iter(sorted(stubs, key=lambda s: s.seq))

    def __len__(self) -> int:
        return self._count

    def clear(self) -> None:
        self._exact.clear()
        self._patterns.clear()
        self._count = 0
        self._sorted = None


__all__ = ["ONESHOT", "ORDERED", "PERMANENT", "RequestHandler", "StubSet"]
