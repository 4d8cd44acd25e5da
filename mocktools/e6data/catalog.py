"""The mock engine's data: catalogs, schemas, tables (typed columns + rows) and query results.

How a SQL text becomes a result (first match wins):

1. a result registered by the test with ``set_query_result(pattern, columns, rows)``, where
   ``pattern`` is the exact SQL (whitespace and case folded), an fnmatch pattern or a compiled regex;
2. ``SELECT * FROM [catalog.][schema.]table [LIMIT n]`` and ``SELECT COUNT(*) FROM ...`` on a
   known table;
3. ``SELECT <literal>[, <literal>...]`` (numbers, quoted strings, TRUE/FALSE/NULL);
4. the default result (seeded, generated rows) - so any query "works", like the seed's mock.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Pattern, Sequence

from .columns import Column, ColumnSpec, RowSource, generator_source, make_columns
from mocktools.errors import WireError


class EngineQueryError(WireError):
    """A query the engine refuses (unknown table, a test-registered error)."""

    grpc_code = "INTERNAL"


@dataclass
class ResultSet:
    """Columns plus a row source; rows are produced slice by slice, never all at once."""

    columns: tuple[Column, ...]
    row_count: int
    source: RowSource

    @classmethod
    def from_rows(cls, columns: Iterable[ColumnSpec], rows: Sequence[Sequence[Any]]) -> "ResultSet":
        cols = make_columns(columns)
        data: list[Sequence[Any]] = [tuple(r) for r in rows]
        for row in data:
            if len(row) != len(cols):
                raise ValueError(f"row {row!r} has {len(row)} values for {len(cols)} columns")
        return cls(cols, len(data), lambda start, stop: data[start:stop])

    @classmethod
    def generated(cls, columns: Iterable[ColumnSpec], row_count: int, seed: int = 0,
                  null_every: int = 0) -> "ResultSet":
        cols = make_columns(columns)
        return cls(cols, int(row_count), generator_source(cols, seed, null_every))

    def rows(self, start: int = 0, stop: int | None = None) -> list[Sequence[Any]]:
        stop = self.row_count if stop is None else min(stop, self.row_count)
        return self.source(start, stop) if start < stop else []

    def limited(self, limit: int) -> "ResultSet":
        return ResultSet(self.columns, min(self.row_count, limit), self.source)


@dataclass
class Table:
    name: str
    result: ResultSet

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.result.columns


@dataclass
class Schema:
    name: str
    tables: dict[str, Table] = field(default_factory=dict)


DEFAULT_COLUMNS = (("id", "LONG"), ("name", "STRING"), ("value", "DOUBLE"), ("active", "BOOLEAN"),
                   ("created", "DATE"))

_SELECT_TABLE = re.compile(
    r"^\s*select\s+(?P<what>\*|count\s*\(\s*\*\s*\))\s+from\s+(?P<name>[\w.\"`]+)"
    r"(?:\s+limit\s+(?P<limit>\d+))?\s*$", re.I | re.S)
_SELECT_LITERALS = re.compile(r"^\s*select\s+(?P<items>.+?)\s*$", re.I | re.S)
_LITERAL = re.compile(r"""^(?:'(?P<s>(?:[^']|'')*)'|(?P<n>[-+]?\d+)|(?P<f>[-+]?\d*\.\d+(?:e[-+]?\d+)?)"""
                      r"""|(?P<b>true|false)|(?P<null>null))(?:\s+as\s+(?P<alias>\w+))?$""", re.I)


def fold(sql: str) -> str:
    return " ".join(sql.strip().rstrip(";").split()).lower()


class DataCatalog:
    """Thread-safe catalog of schemas/tables and the query-to-result rules."""

    def __init__(self, seed: int = 0, default_catalog: str = "default") -> None:
        self.seed = seed
        self._lock = threading.RLock()
        self.default_catalog = default_catalog
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.catalogs: dict[str, dict[str, Schema]] = {self.default_catalog: {}}
            self._rules: list[tuple[Any, ResultSet | EngineQueryError]] = []
            self.default_result = ResultSet.generated(DEFAULT_COLUMNS, 10, self.seed)
            self._install_sample_data()

    def _install_sample_data(self) -> None:
        """A small, seeded world so listing and SELECT * work before a test adds anything."""
        self.add_table("sales", "orders", [("order_id", "LONG"), ("customer", "STRING"),
                                           ("amount", "DECIMAL128", 2), ("quantity", "INTEGER"),
                                           ("paid", "BOOLEAN"), ("order_date", "DATE"),
                                           ("updated_at", "DATETIME")], row_count=100)
        self.add_table("sales", "customers", [("customer_id", "LONG"), ("name", "STRING"),
                                              ("score", "DOUBLE"), ("vip", "BOOLEAN")], row_count=20)
        self.add_table("default", "numbers", [("n", "LONG"), ("squared", "LONG")],
                       rows=[(i, i * i) for i in range(1, 11)])

    # -- definition ----------------------------------------------------------------------
    def add_catalog(self, name: str) -> None:
        with self._lock:
            self.catalogs.setdefault(name, {})

    def add_schema(self, schema: str, catalog: str | None = None) -> Schema:
        with self._lock:
            schemas = self.catalogs.setdefault(catalog or self.default_catalog, {})
            return schemas.setdefault(schema, Schema(schema))

    def add_table(self, schema: str, table: str, columns: Iterable[ColumnSpec], *,
                  rows: Sequence[Sequence[Any]] | None = None, row_count: int = 100,
                  seed: int | None = None, null_every: int = 0, catalog: str | None = None) -> Table:
        """Add (or replace) a table: given ``rows``, or ``row_count`` generated seeded rows."""
        if rows is not None:
            result = ResultSet.from_rows(columns, rows)
        else:
            result = ResultSet.generated(columns, row_count, self.seed if seed is None else seed, null_every)
        with self._lock:
            entry = Table(table, result)
            self.add_schema(schema, catalog).tables[table] = entry
            return entry

    def set_query_result(self, pattern: str | Pattern[str], columns: Iterable[ColumnSpec] | None = None,
                         rows: Sequence[Sequence[Any]] | None = None, *, result: ResultSet | None = None,
                         row_count: int | None = None, seed: int | None = None) -> ResultSet:
        """Answer SQL matching ``pattern`` with these rows (or ``row_count`` generated rows)."""
        if result is None:
            if columns is None:
                raise ValueError("give columns (with rows or row_count) or a ResultSet")
            if rows is not None:
                result = ResultSet.from_rows(columns, rows)
            else:
                result = ResultSet.generated(columns, row_count or 0, self.seed if seed is None else seed)
        with self._lock:
            self._rules.insert(0, (self._compile(pattern), result))
        return result

    def set_query_error(self, pattern: str | Pattern[str], message: str) -> None:
        """Make SQL matching ``pattern`` fail (the engine's error for a bad query)."""
        with self._lock:
            self._rules.insert(0, (self._compile(pattern), EngineQueryError(message)))

    def set_default_result(self, columns: Iterable[ColumnSpec], rows: Sequence[Sequence[Any]] | None = None,
                           *, row_count: int = 10, seed: int | None = None) -> None:
        with self._lock:
            self.default_result = (ResultSet.from_rows(columns, rows) if rows is not None else
                                   ResultSet.generated(columns, row_count, self.seed if seed is None else seed))

    @staticmethod
    def _compile(pattern: str | Pattern[str]) -> Any:
        if isinstance(pattern, str):
            return fold(pattern)
        return pattern

    # -- lookup --------------------------------------------------------------------------
    def schema_names(self, catalog: str | None = None) -> list[str]:
        with self._lock:
            return sorted(self.catalogs.get(catalog or self.default_catalog, {}))

    def table_names(self, schema: str, catalog: str | None = None) -> list[str]:
        with self._lock:
            found = self.catalogs.get(catalog or self.default_catalog, {}).get(schema)
            return sorted(found.tables) if found else []

    def table(self, schema: str | None, table: str, catalog: str | None = None) -> Table | None:
        with self._lock:
            schemas = self.catalogs.get(catalog or self.default_catalog, {})
            if schema:
                found = schemas.get(schema)
                return found.tables.get(table) if found else None
            for candidate in schemas.values():  # unqualified name: first schema that has it
                if table in candidate.tables:
                    return candidate.tables[table]
            return None

    def catalog_names(self) -> list[str]:
        with self._lock:
            return sorted(self.catalogs)

    def resolve(self, sql: str, schema: str | None = None, catalog: str | None = None) -> ResultSet:
        """The result of ``sql`` (see the module doc); EngineQueryError for an unknown table."""
        folded = fold(sql)
        if not folded:
            raise EngineQueryError("empty query")
        with self._lock:
            rules = list(self._rules)
            default = self.default_result
        for pattern, outcome in rules:
            if self._matches(pattern, sql, folded):
                if isinstance(outcome, EngineQueryError):
                    raise EngineQueryError(str(outcome))
                return outcome
        match = _SELECT_TABLE.match(" ".join(sql.strip().rstrip(";").split()))
        if match:
            return self._table_query(match, schema, catalog)
        literal = self._literals(sql)
        if literal is not None:
            return literal
        return default

    @staticmethod
    def _matches(pattern: Any, sql: str, folded: str) -> bool:
        if isinstance(pattern, str):
            return folded == pattern or (any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(folded, pattern))
        return bool(pattern.search(sql))

    def _table_query(self, match: re.Match[str], schema: str | None, catalog: str | None) -> ResultSet:
        parts = [p.strip('"`') for p in match.group("name").split(".")]
        name = parts[-1]
        if len(parts) >= 2:
            schema = parts[-2]
        if len(parts) >= 3:
            catalog = parts[-3]
        if catalog and catalog not in self.catalogs:
            catalog = None  # unknown catalog names fall back to the default one
        table = self.table(schema, name, catalog) or self.table(None, name, catalog)
        if table is None:
            raise EngineQueryError(f"Table '{'.'.join(parts)}' not found")
        result = table.result
        if match.group("what") != "*":
            return ResultSet.from_rows([("count(*)", "LONG")], [(result.row_count,)])
        if match.group("limit") is not None:
            result = result.limited(int(match.group("limit")))
        return result

    @staticmethod
    def _literals(sql: str) -> ResultSet | None:
        match = _SELECT_LITERALS.match(sql.strip().rstrip(";"))
        if not match or re.search(r"\bfrom\b", match.group("items"), re.I):
            return None
        columns, row = [], []
        for index, item in enumerate(match.group("items").split(",")):
            lit = _LITERAL.match(item.strip())
            if lit is None:
                return None
            name = lit.group("alias") or f"_col{index}"
            if lit.group("s") is not None:
                columns.append((name, "STRING")); row.append(lit.group("s").replace("''", "'"))
            elif lit.group("n") is not None:
                value = int(lit.group("n"))
                columns.append((name, "INTEGER" if -2**31 <= value < 2**31 else "LONG")); row.append(value)
            elif lit.group("f") is not None:
                columns.append((name, "DOUBLE")); row.append(float(Decimal(lit.group("f"))))
            elif lit.group("b") is not None:
                columns.append((name, "BOOLEAN")); row.append(lit.group("b").lower() == "true")
            else:
                columns.append((name, "NULL")); row.append(None)
        return ResultSet.from_rows(columns, [row])
