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


def near_misses(req: Any, candidates: Iterable[tuple[str, RequestMatcher, list[tuple[str, str, str, float]]]],
                limit: int = NEAR_MISS_LIMIT) -> list[NearMiss]:
    """The `limit` closest candidates; each is (label, matcher, extra differences such as scenario)."""
    found = []
    for label, matcher, extra in candidates:
        diffs = matcher.differences(req) + extra
        if diffs:
            found.append(NearMiss(label, distance(diffs, matcher.fields() + [d[0] for d in extra]), diffs))
    found.sort(key=lambda miss: miss.distance)
    return found[:limit]


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
