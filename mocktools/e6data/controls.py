"""e6data's domain controls on the /_mock/ HTTP control API (served when ``admin_port`` is set),
declared on the engine, so another process (the run script's operator, a test in another
language) can drive blue/green switches, the cluster, sessions and query results."""
from __future__ import annotations

import re
from typing import Any

from ..control_schema import BOOLEAN, STRING, ControlRoute, array, enum, integer, nullable, obj
from ..errors import ApiError
from .engine import E6DataEngine

#: the most rows one result batch may carry
MAX_BATCH_ROWS = 1_000_000


def e6data_controls(engine: E6DataEngine) -> list[ControlRoute]:
    strategy = engine.strategy

    def switch(immediate: bool = False) -> dict[str, Any]:
        target = strategy.switch_strategy(immediate=immediate)
        return {"target": target, **strategy.describe()}

    def set_strategy(strategy: str) -> dict[str, Any]:
        engine.strategy.set_strategy(strategy)
        return engine.strategy.describe()

    def inject_456(count: int = 1, method: str | None = None) -> dict[str, Any]:
        engine.inject_strategy_mismatch(count, method)
        return {"count": count, "method": method}

    def cluster(action: str) -> dict[str, Any]:
        if action == "suspend":
            engine.suspend_cluster()
        else:
            engine.resume_cluster()
        return {"cluster": engine.describe()["cluster"]}

    def batch_size(rows: int) -> dict[str, Any]:
        engine.batch_size = rows
        return {"batch_size": rows}

    def query_result(sql: str, columns: list[Any], rows: list[list[Any]] | None = None,
                     row_count: int | None = None) -> dict[str, Any]:
        try:
            specs = [tuple(c) if isinstance(c, list) else c for c in columns]
            result = engine.catalog.set_query_result(sql, specs, rows, row_count=row_count)
        except (TypeError, ValueError, re.error) as exc:
            raise ApiError(400, f"columns/rows: {exc}", type="invalid_field", field="columns") from None
        return {"sql": sql, "rows": result.row_count, "columns": [c.name for c in result.columns]}

    column = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 1000},
                        array(STRING, min_items=2, max_items=3)],
              "title": "'name:TYPE' or [name, type(, scale)]"}
    return [
        ControlRoute("/_mock/e6data/strategy", "GET", strategy.describe, summary="The blue/green strategy state",
                     tag="e6data"),
        ControlRoute("/_mock/e6data/strategy", "PUT", set_strategy, obj(["strategy"], strategy=enum("blue", "green")),
                     summary="Serve `strategy` from now on, without announcing it first", tag="e6data"),
        ControlRoute("/_mock/e6data/switch", "POST", switch, obj(immediate=BOOLEAN),
                     summary="Announce a blue/green switch now (immediate: complete it at once)", tag="e6data"),
        ControlRoute("/_mock/e6data/inject-456", "POST", inject_456,
                     obj(count=integer(), method=nullable(STRING)),
                     summary="The next `count` calls (of `method`, an fnmatch pattern) get the 456 strategy signal",
                     tag="e6data"),
        ControlRoute("/_mock/e6data/cluster/<any('suspend','resume'):action>", "POST", cluster,
                     summary="Suspend or resume the cluster", tag="e6data"),
        ControlRoute("/_mock/e6data/sessions/expire", "POST", lambda: {"expired": engine.expire_sessions()},
                     summary="Forget every session; each client's next call is denied", tag="e6data"),
        ControlRoute("/_mock/e6data/batch-size", "POST", batch_size, obj(["rows"], rows=integer(1, MAX_BATCH_ROWS)),
                     summary="Rows per result batch", tag="e6data"),
        ControlRoute("/_mock/e6data/query-result", "POST", query_result,
                     obj(["sql", "columns"], sql={"type": "string", "minLength": 1, "maxLength": 100_000},
                         columns=array(column, min_items=1, max_items=1000),
                         rows=nullable(array(array({}, max_items=1000), max_items=100_000)),
                         row_count=nullable(integer())),
                     summary="Answer SQL matching `sql` with these rows (or `row_count` generated rows)",
                     tag="e6data"),
        ControlRoute("/_mock/e6data/queries", "GET", lambda: {"queries": [dict(r.__dict__)
                                                                        for r in engine.query_log()]},
                     summary="The query journal (SQL, strategy, session, status, rows)", tag="e6data"),
    ]


__all__ = ["MAX_BATCH_ROWS", "e6data_controls"]
