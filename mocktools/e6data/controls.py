"""e6data's domain controls on the /_mock/ HTTP control API (served when ``admin_port`` is set),
so another process - the run script's operator, a test in another language - can drive them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from mocktools.errors import ApiError
from mocktools.routing import Router, read_json_object

if TYPE_CHECKING:
    from .mock import MockE6DataServer


def _body(request: Request) -> dict[str, Any]:
    return read_json_object(request) if request.get_data(cache=True).strip() else {}


def register_e6data_admin_routes(mock: "MockE6DataServer", router: Router) -> None:
    base = "/_mock/e6data"

    def strategy(request: Request) -> dict[str, Any]:
        return mock.engine.strategy.describe()

    def switch(request: Request) -> dict[str, Any]:
        body = _body(request)
        target = mock.switch_strategy(immediate=bool(body.get("immediate", False)))
        return {"target": target, **mock.engine.strategy.describe()}

    def set_strategy(request: Request) -> dict[str, Any]:
        value = _body(request).get("strategy")
        if value not in ("blue", "green"):
            raise ApiError(400, "strategy must be 'blue' or 'green'", type="bad_request")
        mock.set_strategy(value)
        return mock.engine.strategy.describe()

    def inject_456(request: Request) -> dict[str, Any]:
        body = _body(request)
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ApiError(400, "count must be a non-negative integer", type="bad_request")
        mock.engine.inject_strategy_mismatch(count, body.get("method"))
        return {"count": count, "method": body.get("method")}

    def cluster(request: Request, action: str) -> dict[str, Any]:
        if action == "suspend":
            mock.suspend_cluster()
        elif action == "resume":
            mock.resume_cluster()
        else:
            raise ApiError(404, f"unknown cluster action {action!r}", type="not_found")
        return {"cluster": mock.cluster_status}

    def expire(request: Request) -> dict[str, Any]:
        return {"expired": mock.expire_sessions()}

    def batch_size(request: Request) -> dict[str, Any]:
        rows = _body(request).get("rows")
        if not isinstance(rows, int) or rows < 1:
            raise ApiError(400, "rows must be a positive integer", type="bad_request")
        mock.set_batch_size(rows)
        return {"batch_size": rows}

    def query_result(request: Request) -> dict[str, Any]:
        body = _body(request)
        sql, columns = body.get("sql"), body.get("columns")
        if not isinstance(sql, str) or not isinstance(columns, list) or not columns:
            raise ApiError(400, "give 'sql' (string) and 'columns' (list of [name, type] or 'name:TYPE')",
                           type="bad_request")
        try:
            specs = [tuple(c) if isinstance(c, list) else c for c in columns]
            result = mock.set_query_result(sql, specs, body.get("rows"), row_count=body.get("row_count"))
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), type="bad_request") from None
        return {"sql": sql, "rows": result.row_count, "columns": [c.name for c in result.columns]}

    def queries(request: Request) -> dict[str, Any]:
        return {"queries": [dict(r.__dict__) for r in mock.queries()]}

    router.add(f"{base}/strategy", strategy)
    router.add(f"{base}/strategy", set_strategy, methods=["PUT"])
    router.add(f"{base}/switch", switch, methods=["POST"])
    router.add(f"{base}/inject-456", inject_456, methods=["POST"])
    router.add(f"{base}/cluster/<action>", cluster, methods=["POST"])
    router.add(f"{base}/sessions/expire", expire, methods=["POST"])
    router.add(f"{base}/batch-size", batch_size, methods=["POST"])
    router.add(f"{base}/query-result", query_result, methods=["POST"])
    router.add(f"{base}/queries", queries)
