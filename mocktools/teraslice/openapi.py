"""An OpenAPI 3 description of the served endpoints, and a self-contained /docs page."""
from __future__ import annotations

import html
from typing import Any

_PAGING = [
    {"name": "size", "in": "query", "schema": {"type": "integer", "default": 100,
                                                "maximum": 10000}},
    {"name": "from", "in": "query", "schema": {"type": "integer", "default": 0}},
    {"name": "sort", "in": "query", "schema": {"type": "string", "default": "_updated:desc"}},
    {"name": "filter", "in": "query", "description": "Lucene query ANDed to the base query",
     "schema": {"type": "string"}},
    {"name": "deleted", "in": "query", "schema": {"type": "string", "enum": ["true", "false"],
                                                   "default": "false"}},
]
_JOB = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
_EX = {"name": "ex_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WORKERS = [{"name": n, "in": "query", "schema": {"type": "integer"}}
            for n in ("add", "remove", "total")]
_CLEANUP = [{"name": "cleanup_type", "in": "query",
             "schema": {"type": "string", "enum": ["all", "errors", "pending"]}}]
_STOP = [{"name": "blocking", "in": "query", "schema": {"type": "boolean", "default": True}},
         {"name": "force", "in": "query", "schema": {"type": "boolean", "default": False}},
         {"name": "timeout", "in": "query", "schema": {"type": "integer"}}]

#: (method, path, summary, parameters)
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("get", "/v1", "Cluster info (also GET /)", []),
    ("get", "/v1/cluster/state", "Nodes and their active workers, by node id", []),
    ("get", "/v1/cluster/controllers", "Execution controller statistics (alias /slicers)", []),
    ("get", "/v1/cluster/stats", "Summed controller statistics", []),
    ("get", "/v1/jobs", "List jobs", _PAGING + [
        {"name": "active", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
        {"name": "ex", "in": "query", "description": "comma list of execution fields to add",
         "schema": {"type": "string"}}]),
    ("post", "/v1/jobs", "Submit a job (start=false only stores it)",
     [{"name": "start", "in": "query", "schema": {"type": "boolean", "default": True}}]),
    ("get", "/v1/jobs/{job_id}", "One job", [_JOB]),
    ("put", "/v1/jobs/{job_id}", "Replace a job spec", [_JOB]),
    ("delete", "/v1/jobs/{job_id}", "Soft-delete a job that is not running", [_JOB]),
    ("get", "/v1/jobs/{job_id}/ex", "The job's latest execution", [_JOB]),
    ("get", "/v1/jobs/{job_id}/controller", "Controller of the job's latest execution", [_JOB]),
    ("post", "/v1/jobs/{job_id}/_start", "Start a new execution", [_JOB]),
    ("post", "/v1/jobs/{job_id}/_stop", "Stop the latest execution", [_JOB] + _STOP),
    ("post", "/v1/jobs/{job_id}/_pause", "Pause the latest execution", [_JOB]),
    ("post", "/v1/jobs/{job_id}/_resume", "Resume the latest execution", [_JOB]),
    ("post", "/v1/jobs/{job_id}/_recover", "Recover from the latest execution", [_JOB] + _CLEANUP),
    ("post", "/v1/jobs/{job_id}/_workers", "Add/remove/set workers", [_JOB] + _WORKERS),
    ("post", "/v1/jobs/{job_id}/_settings", "Set the log level",
     [_JOB, {"name": "log_level", "in": "query", "schema": {"type": "string"}}]),
    ("post", "/v1/jobs/{job_id}/_active", "Mark the job active", [_JOB]),
    ("post", "/v1/jobs/{job_id}/_inactive", "Mark the job inactive", [_JOB]),
    ("get", "/v1/ex", "List executions", _PAGING + [
        {"name": "status", "in": "query", "description": "comma list of statuses (ORed)",
         "schema": {"type": "string"}}]),
    ("get", "/v1/ex/{ex_id}", "One execution", [_EX]),
    ("get", "/v1/ex/{ex_id}/controller", "The execution's controller (array of one)", [_EX]),
    ("post", "/v1/ex/{ex_id}/_stop", "Stop", [_EX] + _STOP),
    ("post", "/v1/ex/{ex_id}/_pause", "Pause", [_EX]),
    ("post", "/v1/ex/{ex_id}/_resume", "Resume", [_EX]),
    ("post", "/v1/ex/{ex_id}/_recover", "Recover into a new execution", [_EX] + _CLEANUP),
    ("post", "/v1/ex/{ex_id}/_workers", "Add/remove/set workers", [_EX] + _WORKERS),
    ("get", "/v1/ex/errors", "Slice errors of every execution", _PAGING[:4]),
    ("get", "/v1/ex/{ex_id}/errors", "Slice errors of one execution", [_EX] + _PAGING[:4]),
    ("get", "/v1/jobs/{job_id}/errors", "Slice errors of the job's latest execution",
     [_JOB] + _PAGING[:4]),
    ("post", "/v1/data/refresh", "Regenerate the simulated cluster (mock only)",
     [{"name": "seed", "in": "query", "schema": {"type": "integer"}},
      {"name": "jobs", "in": "query", "schema": {"type": "integer"}}]),
] + [("get", f"/txt/{t}", f"Text table of {t}", [
    {"name": "fields", "in": "query", "schema": {"type": "string"}},
    {"name": "headers", "in": "query", "schema": {"type": "boolean"}}])
     for t in ("workers", "nodes", "jobs", "ex", "controllers")]

_ERROR = {"type": "object", "properties": {"error": {"type": "integer"},
                                            "message": {"type": "string"}}}


def openapi_spec(server_url: str = "") -> dict[str, Any]:
    """The OpenAPI 3.0 document of the mock's Teraslice API."""
    paths: dict[str, Any] = {}
    for method, path, summary, params in ENDPOINTS:
        text = path.startswith("/txt/")
        ok = {"text/html": {"schema": {"type": "string"}}} if text else \
            {"application/json": {"schema": {}}}
        paths.setdefault(path, {})[method] = {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": ok},
                "default": {"description": "Error",
                            "content": {"application/json": {"schema": _ERROR}}},
            },
        }
    spec: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "Mock Teraslice API", "version": "1.0.0",
                 "description": "mocktools' simulation of a Teraslice cluster master"},
        "paths": paths,
    }
    if server_url:
        spec["servers"] = [{"url": server_url}]
    return spec


def _docs_html() -> str:
    rows = []
    for method, path, summary, params in ENDPOINTS:
        names = ", ".join(html.escape(p["name"]) for p in params) or "&mdash;"
        link = path if method == "get" and "{" not in path else None
        shown = f'<a href="{html.escape(link)}">{html.escape(path)}</a>' if link else \
            html.escape(path)
        rows.append(f"<tr><td><b>{method.upper()}</b></td><td><code>{shown}</code></td>"
                    f"<td>{html.escape(summary)}</td><td>{names}</td></tr>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Mock Teraslice API</title>"
            "<style>body{font-family:sans-serif;margin:2em}td{padding:4px 10px;"
            "border-bottom:1px solid #ddd}</style></head><body><h1>Mock Teraslice API</h1>"
            "<p>Machine-readable description: <a href='/openapi.json'>/openapi.json</a>. "
            "Every route is also served without the <code>/v1</code> prefix.</p>"
            "<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th></tr>"
            + "".join(rows) + "</table></body></html>")


DOCS_HTML = _docs_html()
