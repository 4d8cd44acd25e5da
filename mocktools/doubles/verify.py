"""Verification messages: what was expected, what was received instead, and what came closest."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..journal import CallRecord
from .matchers import RequestMatcher
from .nearmiss import Unanswered, near_misses
from .stubs import RequestHandler

SHOWN = 10
_CRITERIA = ("uri", "method", "query_string", "headers", "data", "data_encoding", "json", "predicate")


def matcher_from(matcher: RequestMatcher | None, criteria: dict[str, Any]) -> RequestMatcher:
    """A matcher given as is, or built from pytest-httpserver-style keywords (`uri`, `method`, ...)."""
    if matcher is not None:
        if criteria:
            raise TypeError("give a matcher or keyword criteria, not both")
        return matcher
    unknown = set(criteria) - set(_CRITERIA)
    if unknown:
        raise TypeError(f"unknown criteria {sorted(unknown)}; known: {list(_CRITERIA)}")
    return RequestMatcher(**criteria)


def describe_call(record: CallRecord) -> str:
    query = f"?{record.query}" if record.query else ""
    return f"#{record.seq} {record.method} {record.path}{query} -> {record.status}"


def assert_request_made(calls: Sequence[CallRecord], matcher: RequestMatcher | None, count: int | None,
                        criteria: dict[str, Any]) -> list[CallRecord]:
    m = matcher_from(matcher, criteria)
    matching = [record for record in calls if m.match(record)]
    if (count is None and matching) or (count is not None and len(matching) == count):
        return matching
    wanted = "at least 1 request" if count is None else f"{count} request{'s' if count != 1 else ''}"
    lines = [f"expected {wanted} matching {m.describe()}, got {len(matching)}."]
    if not calls:
        lines.append("No request was received at all.")
    else:
        lines.append(f"Received ({min(SHOWN, len(calls))} most recent of {len(calls)}):")
        lines += [f"  {describe_call(r)}" for r in calls[-SHOWN:]]
        if not matching:
            misses = near_misses_among(m, calls)
            if misses:
                lines.append("Closest received:")
                lines += [miss.format() for miss in misses]
    raise AssertionError("\n".join(lines))


def near_misses_among(matcher: RequestMatcher, calls: Sequence[CallRecord]) -> list[Any]:
    """The received calls closest to a matcher (the matcher is the fixed side, as for stubs)."""
    found = []
    for record in calls[-1000:]:
        found += [(miss, record) for miss in near_misses(record, [(describe_call(record), matcher, [])], 1)]
    found.sort(key=lambda pair: pair[0].distance)
    return [miss for miss, _ in found[:3]]


def expectation_report(name: str, unmet: list[RequestHandler], unanswered: list[Unanswered],
                       order: list[str]) -> str:
    """The text `check()` raises, or "" when everything expected happened."""
    parts = []
    if unmet:
        parts.append(f"{len(unmet)} expected request(s) never came:\n" + "\n".join(f"  {s.describe()}" for s in unmet))
    if order:
        parts.append("requests out of the declared order:\n" + "\n".join(f"  {o}" for o in order))
    if unanswered:
        parts.append(f"{len(unanswered)} request(s) nothing answered:\n" + "\n".join(u.format() for u in unanswered))
    return f"{name} mock: " + "\n".join(parts) if parts else ""


__all__ = ["assert_request_made", "describe_call", "expectation_report", "matcher_from"]
