"""Slice error records (`/v1/ex/errors`, `/v1/ex/:id/errors`, `/v1/jobs/:id/errors`).

An execution's `failed` counter is int(processed x fail_rate); its i-th error happened when
processed first reached ceil((i + 1) / fail_rate), a moment the execution's piecewise-linear
processing history gives exactly. So error records are never stored, never move, and a page of
the newest errors across the whole cluster is a lazy k-way merge of per-execution sequences.
"""
from __future__ import annotations

import heapq
import itertools
import json
import math
import uuid
from typing import Any, Callable, Iterable, Iterator

from .entities import Execution
from .states import iso

#: how many error records one request may look at before giving up on a filter
SCAN_LIMIT = 200_000
SORTABLE = ("_created", "_updated")
_NS = uuid.UUID("6f1d2c1e-6b53-4c55-9c9a-7e1c2f0a9d31")
ERRORS = (
    "TSError: Request Timeout, caused by ResponseError: timeout",
    "TSError: slice failed processing, caused by Error: index_not_found_exception",
    "TSError: worker lost connection while processing the slice",
)


def error_count(ex: Execution, now: float) -> int:
    return int(ex.processed(now) * ex.fail_rate) if ex.fail_rate > 0 else 0


def _order(ex: Execution, i: int) -> int:
    return math.ceil((i + 1) / ex.fail_rate)


def error_time(ex: Execution, i: int, now: float) -> float:
    t = ex.time_of_slice(_order(ex, i))
    return min(now, t if t is not None else now)


def error_record(ex: Execution, i: int, now: float) -> dict[str, Any]:
    """The state-store record of the i-th failed slice of `ex`."""
    order = _order(ex, i)
    t = iso(error_time(ex, i, now))
    return {
        "slice_id": str(uuid.uuid5(_NS, f"{ex.ex_id}/{i}")),
        "slicer_id": i % max(1, int(ex.spec.get("slicers", 1))),
        "slicer_order": order,
        "request": json.dumps({"slice": order, "count": ex.spec.get("operations", [{}])[0]
                               .get("size", 5000)}),
        "state": "error",
        "ex_id": ex.ex_id,
        "_created": t,
        "_updated": t,
        "error": ERRORS[(order + len(ex.ex_id)) % len(ERRORS)],
    }


def _stream(ex: Execution, now: float, newest_first: bool) -> Iterator[tuple[float, str, int]]:
    n = error_count(ex, now)
    indices: Iterable[int] = range(n - 1, -1, -1) if newest_first else range(n)
    for i in indices:
        t = error_time(ex, i, now)
        yield (-t if newest_first else t), ex.ex_id, i


def select_errors(executions: Iterable[Execution], now: float, start: int, size: int,
                  descending: bool, keep: Callable[[dict[str, Any]], bool] | None
                  ) -> list[dict[str, Any]]:
    """One page of error records of `executions`, newest (or oldest) first, filtered by `keep`."""
    exs = {ex.ex_id: ex for ex in executions if ex.fail_rate > 0}
    merged = heapq.merge(*(_stream(ex, now, descending) for ex in exs.values()))
    out: list[dict[str, Any]] = []
    skipped = 0
    for _, ex_id, i in itertools.islice(merged, SCAN_LIMIT):
        if len(out) >= size:
            break
        rec = error_record(exs[ex_id], i, now)
        if keep is not None and not keep(rec):
            continue
        if skipped < start:
            skipped += 1
            continue
        out.append(rec)
    return out
