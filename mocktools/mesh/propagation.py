"""Trace-context propagation: W3C ``traceparent``/``tracestate`` (plus optional B3 and Jaeger).

A public, dependency-free module so a user's own test service can propagate context exactly like a
mesh hop does, without a mesh::

    incoming = extract(request.headers)            # parse + validate (never raises)
    ctx = child_context(incoming.context)           # new span id; a new trace when nothing valid came in
    headers = inject(child_context(ctx))            # one new parent-id per outgoing call

Invalid input follows the W3C processing model: an invalid ``traceparent`` is ignored (the trace
restarts and ``tracestate`` is dropped); a ``tracestate`` without a valid parent is discarded; an
invalid ``tracestate`` is dropped whole while the parent is kept. :class:`Extracted` says why, so a
test can assert on context loss.

Why not the opentelemetry propagators (issue 13 asked; ``python -m bench.bench_libs``): on the W3C
accept/drop decisions of the benchmark's 12 edge cases both agree with the spec (12/12), and speed is
the same (extracting a valid traceparent + tracestate: 5-10 us here, 6-13 us there). But the library
only returns a context or nothing: it cannot say *why* a header was dropped (its reasons go to a
logger as warnings), which is what this module's :class:`Extracted` report is for (context-loss
assertions, the mesh's ``context_events``); it has no B3/Jaeger fallback order with reasons either.
So this module stays, and tests/unit/test_mesh_graph_oracle.py checks it against the library on
valid headers (same trace id, parent id, flags and tracestate).
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote
from mocktools.errors import WireError

__all__ = [
    "TraceContext",
    "Extracted",
    "TraceContextError",
    "parse_traceparent",
    "parse_tracestate",
    "format_tracestate",
    "extract",
    "extract_environ",
    "child_context",
    "new_context",
    "inject",
    "new_trace_id",
    "new_span_id",
    "FLAG_SAMPLED",
    "FLAG_RANDOM",
    "MAX_TRACESTATE_MEMBERS",
]

FLAG_SAMPLED = 0x01
FLAG_RANDOM = 0x02
_KNOWN_FLAGS = FLAG_SAMPLED | FLAG_RANDOM
MAX_TRACESTATE_MEMBERS = 32
TRACESTATE_MAX_LEN = 512
_INVALID_TRACE = "0" * 32
_INVALID_SPAN = "0" * 16

_HEX2 = re.compile(r"[0-9a-f]{2}\Z")
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
_HEX16 = re.compile(r"[0-9a-f]{16}\Z")
_TS_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}\Z")
_TS_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]\Z")
_OWS = " \t"


class TraceContextError(WireError, ValueError):
    """A propagation header that the spec says must be ignored."""


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's identity as it travels: trace id, span id, flags and vendor state."""

    trace_id: str
    span_id: str
    flags: int = FLAG_SAMPLED
    tracestate: tuple[tuple[str, str], ...] = ()

    @property
    def sampled(self) -> bool:
        return bool(self.flags & FLAG_SAMPLED)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags & _KNOWN_FLAGS:02x}"

    @property
    def tracestate_header(self) -> str:
        return format_tracestate(self.tracestate)

    def with_tracestate(self, key: str, value: str) -> TraceContext:
        """Add or update our own member: it moves to the left, the right-most falls off past 32."""
        if not _TS_KEY.match(key) or not _TS_VALUE.match(value):
            raise TraceContextError(f"invalid tracestate member {key!r}={value!r}")
        members = [(key, value)] + [m for m in self.tracestate if m[0] != key]
        return replace(self, tracestate=tuple(members[:MAX_TRACESTATE_MEMBERS]))


@dataclass(frozen=True, slots=True)
class Extracted:
    """The outcome of reading incoming headers.

    ``context`` is the caller's context (``None`` when absent or invalid); ``error`` names why a
    present traceparent (or B3/Jaeger header) was rejected; ``tracestate_error`` why a tracestate
    was dropped. ``source`` is "w3c", "b3", "b3multi", "jaeger" or ``None``.
    """

    context: TraceContext | None
    source: str | None = None
    error: str | None = None
    tracestate_error: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def restarted(self) -> bool:
        """True when context was present but unusable, so the trace starts over."""
        return self.context is None and self.error is not None

    @property
    def context_lost(self) -> bool:
        return self.error is not None or self.tracestate_error is not None


#: ids come from a private generator seeded by the OS, as OpenTelemetry's RandomIdGenerator uses
#: `random.getrandbits`: os.urandom is a getrandom() syscall that releases the GIL, two per hop,
#: each a thread switch when all of a mesh's instances share one process. Private, so a test's
#: `random.seed()` cannot make two traces share an id; reseeded in a forked child.
_ids = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_trace_id() -> str:
    """A random, non-zero 128-bit trace id (all 16 bytes random, so the random flag applies)."""
    while True:
        value = _ids.getrandbits(128)
        if value:
            return f"{value:032x}"


def new_span_id() -> str:
    while True:
        value = _ids.getrandbits(64)
        if value:
            return f"{value:016x}"


def parse_traceparent(value: str) -> tuple[str, str, int]:
    """Validate one traceparent value; return (trace_id, parent_id, flags) or raise."""
    value = value.strip(_OWS)
    if len(value) < 55:
        raise TraceContextError(f"traceparent too short ({len(value)} chars)")
    version = value[:2]
    if not _HEX2.match(version):
        raise TraceContextError(f"illegal traceparent version {version!r}")
    if version == "ff":
        raise TraceContextError("traceparent version ff is forbidden")
    if version == "00" and len(value) != 55:
        raise TraceContextError("traceparent version 00 must be exactly 55 chars")
    if version != "00" and len(value) > 55 and value[55] != "-":
        raise TraceContextError("traceparent of a future version must continue with '-'")
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        raise TraceContextError("traceparent fields must be separated by '-'")
    trace_id, parent_id, flags = value[3:35], value[36:52], value[53:55]
    if not _HEX32.match(trace_id):
        raise TraceContextError("trace-id must be 32 lower-case hex chars")
    if trace_id == _INVALID_TRACE:
        raise TraceContextError("trace-id is all zeros")
    if not _HEX16.match(parent_id):
        raise TraceContextError("parent-id must be 16 lower-case hex chars")
    if parent_id == _INVALID_SPAN:
        raise TraceContextError("parent-id is all zeros")
    if not _HEX2.match(flags):
        raise TraceContextError("trace-flags must be 2 lower-case hex chars")
    return trace_id, parent_id, int(flags, 16) & _KNOWN_FLAGS


def parse_tracestate(values: str | Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Join header lines with ',' and validate every member; raise on anything the spec forbids."""
    text = values if isinstance(values, str) else ",".join(values)
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in text.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        key, sep, value = member.partition("=")
        if not sep:
            raise TraceContextError(f"tracestate member without '=': {member[:40]!r}")
        if not _TS_KEY.match(key):
            raise TraceContextError(f"illegal tracestate key {key[:40]!r}")
        if not _TS_VALUE.match(value):
            raise TraceContextError(f"illegal tracestate value for {key[:40]!r}")
        if key in seen:  # the spec allows keeping or de-duplicating: keep the first (left-most)
            continue
        seen.add(key)
        members.append((key, value))
    if len(members) > MAX_TRACESTATE_MEMBERS:
        raise TraceContextError(f"tracestate has {len(members)} members (max {MAX_TRACESTATE_MEMBERS})")
    return tuple(members)


def format_tracestate(members: Iterable[tuple[str, str]], limit: int = TRACESTATE_MAX_LEN) -> str:
    """Serialize members; past ``limit`` chars drop entries > 128 chars first, then from the right."""
    items = [f"{k}={v}" for k, v in members]
    if len(",".join(items)) > limit:
        items = [i for i in items if len(i) <= 128]
        while items and len(",".join(items)) > limit:
            items.pop()
    return ",".join(items)


def _header_lists(headers: Any) -> dict[str, list[str]]:
    """Case-insensitive multi-value view of a dict, werkzeug Headers, or list of pairs."""
    out: dict[str, list[str]] = {}
    pairs = headers.items() if hasattr(headers, "items") else headers
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(value)
    return out


def _extract_w3c(h: dict[str, list[str]]) -> Extracted:
    parents = h.get("traceparent")
    states = h.get("tracestate")
    raw = {"traceparent": ",".join(parents or []), **({"tracestate": ",".join(states)} if states else {})}
    if not parents:
        err = "tracestate without traceparent discarded" if states else None
        return Extracted(None, None, None, err, raw)
    try:
        if len(parents) > 1:
            raise TraceContextError("more than one traceparent header")
        trace_id, parent_id, flags = parse_traceparent(parents[0])
    except TraceContextError as exc:
        return Extracted(None, "w3c", str(exc), "dropped with invalid traceparent" if states else None, raw)
    ts: tuple[tuple[str, str], ...] = ()
    ts_error = None
    if states:
        try:
            ts = parse_tracestate(states)
        except TraceContextError as exc:
            ts_error = str(exc)
    return Extracted(TraceContext(trace_id, parent_id, flags, ts), "w3c", None, ts_error, raw)


def _pad_trace(trace_id: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{1,32}", trace_id):
        raise TraceContextError(f"illegal trace id {trace_id[:40]!r}")
    padded = trace_id.rjust(32, "0")
    if padded == _INVALID_TRACE:
        raise TraceContextError("trace id is zero")
    return padded


def _span(span_id: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{1,16}", span_id):
        raise TraceContextError(f"illegal span id {span_id[:40]!r}")
    padded = span_id.rjust(16, "0")
    if padded == _INVALID_SPAN:
        raise TraceContextError("span id is zero")
    return padded


def _extract_b3(h: dict[str, list[str]]) -> Extracted | None:
    single = h.get("b3")
    if single:
        raw = {"b3": single[0]}
        parts = single[0].strip(_OWS).split("-")
        if len(parts) == 1 and parts[0] in ("0", "1", "d"):
            return None  # sampling-only: no ids to continue
        try:
            if len(parts) < 2 or len(parts) > 4 or len(parts[0]) not in (16, 32) or len(parts[1]) != 16:
                raise TraceContextError("b3 must be {TraceId}-{SpanId}[-{Sampled}[-{ParentSpanId}]]")
            sampled = parts[2] if len(parts) > 2 else "1"
            if sampled not in ("0", "1", "d"):
                raise TraceContextError(f"illegal b3 sampling state {sampled!r}")
            if len(parts) == 4 and (len(parts[3]) != 16 or not _HEX16.match(parts[3])):
                raise TraceContextError("b3 ParentSpanId must be 16 lower-case hex chars")
            ctx = TraceContext(_pad_trace(parts[0]), _span(parts[1]), 0 if sampled == "0" else FLAG_SAMPLED)
        except TraceContextError as exc:
            return Extracted(None, "b3", str(exc), None, raw)
        return Extracted(ctx, "b3", None, None, raw)
    trace = h.get("x-b3-traceid")
    if not trace:
        return None
    span = (h.get("x-b3-spanid") or [""])[0]
    sampled = (h.get("x-b3-sampled") or ["1"])[0].lower()
    debug = (h.get("x-b3-flags") or ["0"])[0] == "1"
    raw = {"x-b3-traceid": trace[0], "x-b3-spanid": span}
    try:
        if len(trace[0]) not in (16, 32) or len(span) != 16:
            raise TraceContextError("X-B3-TraceId must be 16/32 hex and X-B3-SpanId 16 hex")
        flag = 0 if sampled in ("0", "false") and not debug else FLAG_SAMPLED
        ctx = TraceContext(_pad_trace(trace[0]), _span(span), flag)
    except TraceContextError as exc:
        return Extracted(None, "b3multi", str(exc), None, raw)
    return Extracted(ctx, "b3multi", None, None, raw)


def _extract_jaeger(h: dict[str, list[str]]) -> Extracted | None:
    values = h.get("uber-trace-id")
    if not values:
        return None
    raw = {"uber-trace-id": values[0]}
    parts = unquote(values[0]).strip(_OWS).split(":")
    try:
        if len(parts) != 4:
            raise TraceContextError("uber-trace-id must be trace:span:parent:flags")
        flags = int(parts[3], 16) if re.fullmatch(r"[0-9a-f]{1,2}", parts[3]) else -1
        if flags < 0:
            raise TraceContextError(f"illegal uber-trace-id flags {parts[3]!r}")
        ctx = TraceContext(_pad_trace(parts[0]), _span(parts[1]), FLAG_SAMPLED if flags & 0x03 else 0)
    except TraceContextError as exc:
        return Extracted(None, "jaeger", str(exc), None, raw)
    return Extracted(ctx, "jaeger", None, None, raw)


def extract(headers: Mapping[str, str] | Iterable[tuple[str, str]], *, b3: bool = False,
            jaeger: bool = False) -> Extracted:
    """Read the caller's context. W3C wins when valid; B3 (single before multi) and Jaeger are opt-in fallbacks."""
    return _extract(_header_lists(headers), b3, jaeger)


#: the WSGI environ keys of every header `extract` reads, and the header's lower-case name
_ENVIRON_KEYS = (("HTTP_TRACEPARENT", "traceparent"), ("HTTP_TRACESTATE", "tracestate"), ("HTTP_B3", "b3"),
                 ("HTTP_X_B3_TRACEID", "x-b3-traceid"), ("HTTP_X_B3_SPANID", "x-b3-spanid"),
                 ("HTTP_X_B3_SAMPLED", "x-b3-sampled"), ("HTTP_X_B3_FLAGS", "x-b3-flags"),
                 ("HTTP_UBER_TRACE_ID", "uber-trace-id"))


def extract_environ(environ: Mapping[str, Any], *, b3: bool = False, jaeger: bool = False) -> Extracted:
    """`extract` for a WSGI request, reading only the few environ keys it needs (a mesh hop's
    headers view would walk every key); the same result as `extract(request.headers)`."""
    h: dict[str, list[str]] = {}
    for key, name in _ENVIRON_KEYS:
        value = environ.get(key)
        if value is not None:
            h[name] = [value]
    return _extract(h, b3, jaeger)


def _extract(h: dict[str, list[str]], b3: bool, jaeger: bool) -> Extracted:
    result = _extract_w3c(h)
    if result.context is not None:
        return result
    for enabled, fn in ((b3, _extract_b3), (jaeger, _extract_jaeger)):
        if enabled:
            other = fn(h)
            if other is not None and (other.context is not None or result.error is None):
                return other
    return result


def new_context(*, sampled: bool = True) -> TraceContext:
    """Start a trace: random ids, so the Level-2 random-trace-id flag is set."""
    return TraceContext(new_trace_id(), new_span_id(), (FLAG_SAMPLED if sampled else 0) | FLAG_RANDOM)


def child_context(parent: TraceContext | None, *, sampled: bool | None = None) -> TraceContext:
    """A new span under ``parent`` (same trace, flags and tracestate), or a new trace without one."""
    if parent is None:
        return new_context(sampled=True if sampled is None else sampled)
    flags = parent.flags & _KNOWN_FLAGS
    if sampled is not None:
        flags = (flags | FLAG_SAMPLED) if sampled else (flags & ~FLAG_SAMPLED)
    return TraceContext(parent.trace_id, new_span_id(), flags, parent.tracestate)


def inject(ctx: TraceContext, headers: dict[str, str] | None = None, *,
           formats: Iterable[str] = ("w3c",)) -> dict[str, str]:
    """Outgoing headers for a call whose client span is ``ctx`` (pass a fresh child per call)."""
    out = {} if headers is None else headers
    for fmt in formats:
        if fmt == "w3c":
            out["traceparent"] = ctx.traceparent
            if ctx.tracestate:
                out["tracestate"] = ctx.tracestate_header
        elif fmt == "b3":
            out["b3"] = f"{ctx.trace_id}-{ctx.span_id}-{1 if ctx.sampled else 0}"
        elif fmt == "b3multi":
            out["X-B3-TraceId"] = ctx.trace_id
            out["X-B3-SpanId"] = ctx.span_id
            out["X-B3-Sampled"] = "1" if ctx.sampled else "0"
        elif fmt == "jaeger":
            out["uber-trace-id"] = f"{ctx.trace_id}:{ctx.span_id}:0:{1 if ctx.sampled else 0}"
        else:
            raise ValueError(f"unknown propagation format {fmt!r}")
    return out
