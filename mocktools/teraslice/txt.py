"""The `/txt/*` tables, laid out as easy-table 1.2 prints them for Teraslice's makeTable()."""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

_MISSING = object()


def _get(item: Mapping[str, Any], path: str, default: Any) -> Any:
    """lodash `get`: dotted paths into nested objects, `default` when absent."""
    cur: Any = item
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


def _js_string(value: Any) -> str:
    """JavaScript's String(value) for JSON values."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def parse_fields(raw: str | None, defaults: Sequence[str]) -> list[str]:
    """`fields=a,b` or `fields=a b` (parseList); empty -> the endpoint's defaults."""
    if not raw:
        return list(defaults)
    fields = [f for f in re.split(r"[,\s]+", raw) if f]
    return fields or list(defaults)


def make_table(rows: Sequence[Mapping[str, Any]], fields: Sequence[str], headers: bool = True) -> str:
    """Header row, a dash row, one row per record; two spaces between padded columns."""
    empty = "N/A"
    data = list(rows)
    if not data:
        empty = ""
        data = [{}]
    cells = [[_js_string(_get(row, f, empty)) for f in fields] for row in data]
    widths = [max([len(f) if headers else 0] + [len(r[i]) for r in cells])
              for i, f in enumerate(fields)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)) + "\n"

    out = []
    if headers:
        out.append(line(fields))
        out.append(line(["-" * w for w in widths]))
    out.extend(line(r) for r in cells)
    return "".join(out)
