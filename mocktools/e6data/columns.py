"""Typed result columns and seeded row generation for the e6data mock.

A column has a name and an engine type name (the string the client shows in
``cursor.description``). Rows are Python values: int, float, str, bool, ``datetime.date``,
``datetime.datetime`` (naive = UTC), ``decimal.Decimal`` and ``None`` for NULL.
Generated rows are a pure function of (seed, row index, column index), so any slice of a
large result can be produced on demand without keeping the rows in memory.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

#: Engine type names the mock can encode, with the Python value each carries.
TYPES: dict[str, str] = {
    "LONG": "int (64-bit)",
    "INTEGER": "int (32-bit)",
    "DOUBLE": "float",
    "FLOAT": "float (32-bit precision on the engine)",
    "STRING": "str",
    "BOOLEAN": "bool",
    "DATE": "datetime.date (client shows 'YYYY-MM-DD')",
    "DATETIME": "datetime.datetime, naive = UTC (client shows ISO text)",
    "TIMESTAMP_TZ": "datetime.datetime with tzinfo (client shows ISO text with offset)",
    "DECIMAL128": "decimal.Decimal",
    "INTERVAL_DAY_SECOND": "datetime.timedelta",
    "NULL": "always None",
}

#: Friendly aliases accepted when a test declares columns.
ALIASES = {
    "BIGINT": "LONG", "INT64": "LONG", "INT": "INTEGER", "INT32": "INTEGER",
    "VARCHAR": "STRING", "TEXT": "STRING", "BOOL": "BOOLEAN", "REAL": "FLOAT",
    "TIMESTAMP": "DATETIME", "DECIMAL": "DECIMAL128", "NUMERIC": "DECIMAL128",
    "INTERVAL": "INTERVAL_DAY_SECOND",
}

EPOCH_DATE = _dt.date(1970, 1, 1)
EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def normalize_type(type_name: str) -> str:
    """Upper-case a type name and resolve aliases; reject unknown names early."""
    name = str(type_name).strip().upper()
    name = ALIASES.get(name, name)
    if name not in TYPES:
        raise ValueError(f"unsupported e6data column type {type_name!r}; known: {sorted(TYPES)}")
    return name


@dataclass(frozen=True)
class Column:
    """One result column. ``scale`` is only used by DECIMAL128 (digits after the point)."""

    name: str
    type: str = "STRING"
    scale: int = 2
    nullable: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", normalize_type(self.type))
        if not self.name:
            raise ValueError("a column needs a name")
        if not 0 <= self.scale <= 38:
            raise ValueError("decimal scale must be within 0..38")


ColumnSpec = Column | tuple | str


def make_columns(specs: Iterable[ColumnSpec]) -> tuple[Column, ...]:
    """Accept Column objects, (name, type[, scale]) tuples or "name:TYPE" strings."""
    columns: list[Column] = []
    for spec in specs:
        if isinstance(spec, Column):
            columns.append(spec)
        elif isinstance(spec, str):
            name, _, type_name = spec.partition(":")
            columns.append(Column(name.strip(), type_name.strip() or "STRING"))
        else:
            columns.append(Column(*spec))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in {names}")
    return tuple(columns)


# -- value conversion (Python value -> what the Thrift vector carries) -------------------------

def date_to_micros(value: Any) -> int:
    """DATE values travel as epoch microseconds of midnight UTC."""
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        return (value - EPOCH_DATE).days * 86_400_000_000
    if isinstance(value, str):
        return date_to_micros(_dt.date.fromisoformat(value))
    return int(value)


def datetime_to_micros(value: Any) -> int:
    """DATETIME values travel as epoch microseconds (naive datetimes are taken as UTC)."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        delta = value - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, _dt.date):
        return date_to_micros(value)
    if isinstance(value, str):
        return datetime_to_micros(_dt.datetime.fromisoformat(value))
    return int(value)


def zone_of(value: Any) -> str:
    """The "+HH:MM" offset of an aware datetime (TIMESTAMP_TZ rows), "Z"-free."""
    offset = value.utcoffset() if isinstance(value, _dt.datetime) else None
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return "+00:00"


def decimal_to_bytes(value: Any, scale: int) -> bytes:
    """DECIMAL128: 16-byte big-endian two's complement of the value scaled by 10**scale."""
    unscaled = int((Decimal(str(value)) * (Decimal(10) ** scale)).to_integral_value())
    return unscaled.to_bytes(16, "big", signed=True)


def interval_to_micros(value: Any) -> int:
    if isinstance(value, _dt.timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return int(value)


# -- seeded generation ----------------------------------------------------------------------

_MASK = (1 << 64) - 1
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo")


def mix(seed: int, row: int, col: int) -> int:
    """splitmix64 of (seed, row, col): cheap, deterministic, well spread."""
    z = (seed * 0x9E3779B97F4A7C15 + row * 0xBF58476D1CE4E5B9 + col * 0x94D049BB133111EB) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def generated_value(column: Column, seed: int, row: int, col: int, null_every: int = 0) -> Any:
    """The value of generated row ``row`` in column ``col``; ``null_every`` > 0 makes every
    N-th row of a nullable column NULL (row 0 never is, so the first row is always full)."""
    if column.type == "NULL":
        return None
    if col == 0 and column.type == "LONG":
        return row + 1  # a LONG first column is a key: 1, 2, 3 ... and never NULL
    if null_every and column.nullable and row % null_every == null_every - 1:
        return None
    h = mix(seed, row, col)
    t = column.type
    if t == "LONG":
        return h % 1_000_000_000
    if t == "INTEGER":
        return h % 100_000 - 50_000
    if t == "DOUBLE":
        return round((h % 10_000_000) / 1000.0, 3)
    if t == "FLOAT":
        return (h % 100_000) / 4.0
    if t == "STRING":
        return f"{WORDS[h % len(WORDS)]}-{row}"
    if t == "BOOLEAN":
        return bool(h & 1)
    if t == "DATE":
        return EPOCH_DATE + _dt.timedelta(days=18_000 + h % 3_000)
    if t == "DATETIME":
        return _dt.datetime(2024, 1, 1) + _dt.timedelta(seconds=h % 31_536_000)
    if t == "TIMESTAMP_TZ":
        return _dt.datetime(2024, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=h % 31_536_000)
    if t == "DECIMAL128":
        return Decimal(h % 10_000_000).scaleb(-column.scale)
    return _dt.timedelta(seconds=h % 86_400)  # INTERVAL_DAY_SECOND


RowSource = Callable[[int, int], list[Sequence[Any]]]


def generator_source(columns: Sequence[Column], seed: int, null_every: int = 0) -> RowSource:
    """A row source that produces rows [start, stop) on demand."""

    def rows(start: int, stop: int) -> list[Sequence[Any]]:
        return [tuple(generated_value(c, seed, r, i, null_every) for i, c in enumerate(columns))
                for r in range(start, stop)]

    return rows
