"""Near misses: for a request nothing answered, the stubs (or recorded requests) closest to it.

As WireMock's near-miss report does, each candidate gets a weighted distance over the fields it
constrains (the path weighs most), the closest few are listed, and each names the fields that
differed with what was expected and what came.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .matchers import RequestMatcher, distance

NEAR_MISS_LIMIT = 3
#: beyond this many candidates only the roughly closest get the full (difflib) comparison
PRESELECT = 200


@dataclass
class NearMiss:
    """One candidate close to a request: its label, distance (0..1) and the differing fields."""

    label: str
    distance: float
    differences: list[tuple[str, str, str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.label, "distance": round(self.distance, 3),
                "differences": [{"field": f, "expected": e, "actual": a} for f, e, a, _ in self.differences]}

    def format(self) -> str:
        lines = [f"  {self.label}  (distance {self.distance:.2f})"]
        for name, expected, actual, _ in self.differences:
            lines.append(f"      {name:<9} expected {expected}, got {actual}  <<<<< {name} does not match")
        return "\n".join(lines)


def _rough_key(req: Any, matcher: RequestMatcher) -> tuple[int, int, int]:
    """A cheap ordering for many candidates: same method first, then the longest shared path
    prefix, then the closest path length (the path weighs most in the real distance)."""
    target = matcher.uri if isinstance(matcher.uri, str) else getattr(matcher.uri, "pattern", "")
    target = target if isinstance(target, str) else ""
    path = req.path
    shared = 0
    for a, b in zip(target, path):
        if a != b:
            break
        shared += 1
    method_differs = int(matcher.method is not None and matcher.method != req.method)
    return method_differs, -shared, abs(len(target) - len(path))


def near_misses(req: Any, candidates: Iterable[tuple[Any, RequestMatcher, list[tuple[str, str, str, float]]]],
                limit: int = NEAR_MISS_LIMIT) -> list[NearMiss]:
    """The `limit` closest candidates; each is (label or a callable giving it, matcher, extra
    differences such as a scenario state). Past PRESELECT candidates, a cheap ordering picks
    the ones worth the full comparison, so a miss among 10,000 stubs stays in milliseconds."""
    pool = list(candidates)
    if len(pool) > PRESELECT:
        pool.sort(key=lambda c: _rough_key(req, c[1]))
        pool = pool[:PRESELECT]
    found = []
    for label, matcher, extra in pool:
        diffs = matcher.differences(req) + extra
        if diffs:
            found.append((distance(diffs, matcher.fields() + [d[0] for d in extra]), label, diffs))
    found.sort(key=lambda item: item[0])
    return [NearMiss(label() if callable(label) else label, d, diffs) for d, label, diffs in found[:limit]]


@dataclass
class Unanswered:
    """A request nothing answered, with the near misses found for it."""

    request: Any
    reason: str
    misses: list[NearMiss]

    def format(self) -> str:
        head = f"{self.request.describe()}: {self.reason}"
        if not self.misses:
            return head + "\n  (nothing to compare it with)"
        return head + "\n  closest:\n" + "\n".join(m.format() for m in self.misses)

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.request.describe(), "reason": self.reason,
                "near_misses": [m.to_dict() for m in self.misses]}


def summary(miss: NearMiss | None) -> str:
    """One line naming the closest candidate and what differed, for a 4xx message."""
    if miss is None:
        return "nothing is stubbed or recorded to compare it with"
    fields = ", ".join(f"{name} (expected {expected}, got {actual})" for name, expected, actual, _ in miss.differences)
    return f"closest: {miss.label}; differs in {fields}"


__all__ = ["NEAR_MISS_LIMIT", "NearMiss", "Unanswered", "near_misses", "summary"]
