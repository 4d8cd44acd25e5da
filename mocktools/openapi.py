"""The control API describing itself: an OpenAPI 3.1 document built from the declared routes'
JSON Schemas, and a self-contained HTML page rendering it (no CDN, no network: it works offline
and on an air-gapped CI box)."""
from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

from .control_schema import ControlRoute, Schema, phrase

if TYPE_CHECKING:
    from .control_api import AdminAPI
    from .lifecycle import MockServerBase

_RULE_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_ERROR: Schema = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "integer"}, "type": {"type": ["string", "null"]}, "message": {"type": "string"},
                   "field": {"type": "string", "description": "the input field at fault (dotted path)"}}}}}
_STANDARD = {400: "invalid input: the error names the field", 401: "off loopback: the control token is missing",
             404: "unknown route", 405: "method not allowed"}


def _path_and_parameters(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """A werkzeug rule as an OpenAPI path template plus its path parameters."""
    params: list[dict[str, Any]] = []

    def swap(match: re.Match[str]) -> str:
        conv, name = match["conv"] or "default", match["name"]
        schema: Schema = {"type": "string"}
        if conv == "int":
            schema = {"type": "integer", "minimum": 0}
        elif conv == "any":
            schema = {"type": "string", "enum": re.findall(r"'([^']*)'|\"([^\"]*)\"|([\w-]+)", match["args"] or "")}
            schema["enum"] = ["".join(parts) for parts in schema["enum"]]
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    return _RULE_ARG.sub(swap, rule), params


def _operation(route: ControlRoute, mock_name: str) -> tuple[str, dict[str, Any]]:
    path, params = _path_and_parameters(route.path)
    schema = route.schema or {}
    op: dict[str, Any] = {"operationId": f"{route.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}",
                          "summary": route.summary or route.path, "tags": [route.tag]}
    if route.description:
        op["description"] = route.description
    if route.reads_query:
        required = set(schema.get("required", []))
        params += [{"name": name, "in": "query", "required": name in required, "schema": prop,
                    **({"description": prop["description"]} if "description" in prop else {})}
                   for name, prop in schema.get("properties", {}).items()]
    else:
        op["requestBody"] = {"required": bool(schema.get("required")),
                             "content": {"application/json": {"schema": schema}}}
    if params:
        op["parameters"] = params
    responses: dict[str, Any] = {"200": {"description": "done", "content": {"application/json": {"schema": {}}}}}
    codes = dict(_STANDARD)
    if not route.reads_query:
        codes.update({415: "the body is not JSON", 422: "the body is not a JSON object"})
    codes.update(route.responses)
    for code, text in sorted(codes.items()):
        responses[str(code)] = {"description": text,
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    op["responses"] = responses
    return path, op


def openapi_document(mock: MockServerBase, api: AdminAPI, base_url: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document of one mock's control API (shared and domain controls)."""
    from . import __version__

    routes = list(api.router.controls)
    routes += [ControlRoute(rule, m, lambda **_: None, summary=f"{rule} (declared without a schema)",
                            tag="undeclared") for rule, methods in api.router.undeclared for m in methods]
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path, op = _operation(route, mock.name)
        paths.setdefault(path, {})[route.method.lower()] = op
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"mocktools {mock.name} control API", "version": __version__,
                 "description": f"The /_mock/ control API of {type(mock).__name__}: the shared controls every "
                                "mock has (faults, journal, reset) and this mock's domain controls. Off loopback "
                                "every route needs the mock's token (Authorization: Bearer <token>)."},
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "mockToken": {"type": "apiKey", "in": "header", "name": "X-Mock-Token"}}},
        "tags": [{"name": t} for t in dict.fromkeys(r.tag for r in routes)],
    }
    if base_url:
        doc["servers"] = [{"url": base_url.rstrip("/")}]
    if mock.admin_token:
        doc["security"] = [{"bearer": []}, {"mockToken": []}]
    return doc


def example(schema: Schema) -> Any:
    """A small valid value for `schema`, to prefill the docs page's forms."""
    if "default" in schema:
        return schema["default"]
    if "anyOf" in schema:
        return example(schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(props[name]) for name in schema.get("required", []) if name in props}
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if kind == "integer" else 0.5))
    return {"array": [], "boolean": True, "string": "text", "null": None}.get(str(kind), None)


_CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1em;color:#222}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}code,pre,textarea{font:13px ui-monospace,monospace}
.op{border:1px solid #ddd;border-radius:6px;margin:.7em 0;padding:.4em .8em}.m{display:inline-block;min-width:4.5em;
font-weight:bold}.GET{color:#1a7f37}.POST{color:#0550ae}.PUT{color:#9a6700}.DELETE{color:#cf222e}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
textarea{width:100%;height:4.5em}pre.out{background:#f6f8fa;padding:.5em;white-space:pre-wrap;max-height:20em;
overflow:auto}"""
_JS = """function send(btn){const op=btn.closest('.op');const m=op.dataset.method;let url=op.querySelector('.url').value;
const opts={method:m,headers:{}};const tok=document.getElementById('token').value;
if(tok){opts.headers['Authorization']='Bearer '+tok}const ta=op.querySelector('textarea');
if(ta&&m!=='GET'){opts.body=ta.value;opts.headers['Content-Type']='application/json'}
const out=op.querySelector('.out');out.textContent='...';fetch(url,opts).then(r=>r.text().then(t=>{
let body=t;try{body=JSON.stringify(JSON.parse(t),null,2)}catch(e){}out.textContent=r.status+' '+r.statusText+'\\n'+body}))
.catch(e=>{out.textContent=String(e)})}"""


def _fields_table(schema: Schema, where: str) -> str:
    props = schema.get("properties", {})
    if not props:
        return ""
    required = set(schema.get("required", []))
    rows = "".join(f"<tr><td><code>{html.escape(n)}</code></td><td>{html.escape(phrase(p))}</td>"
                   f"<td>{'yes' if n in required else ''}</td><td>{html.escape(json.dumps(p.get('default')))}"
                   f"</td><td>{html.escape(p.get('description', ''))}</td></tr>" for n, p in props.items())
    return (f"<table><tr><th>{where}</th><th>type</th><th>required</th><th>default</th><th>notes</th></tr>"
            f"{rows}</table>")


def docs_page(mock: MockServerBase, api: AdminAPI, base_url: str = "") -> Any:
    """The OpenAPI document rendered as one HTML page with inline CSS and a small inline 'send' form."""
    from werkzeug.wrappers import Response

    doc = openapi_document(mock, api, base_url)
    title = html.escape(doc["info"]["title"])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
             f"<style>{_CSS}</style><script>{_JS}</script></head><body>",
             f"<h1>{title}</h1><p>{html.escape(doc['info']['description'])}</p>",
             "<p>Machine-readable: <a href='/_mock/openapi.json'>/_mock/openapi.json</a> (OpenAPI 3.1). ",
             "Token (off loopback): <input id='token' size='30'></p>"]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault(op["tags"][0], []).append((path, method.upper(), op))
    for tag, ops in by_tag.items():
        parts.append(f"<h2>{html.escape(tag)}</h2>")
        for path, method, op in ops:
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            query = {"type": "object", "properties": {p["name"]: p["schema"] for p in op.get("parameters", [])
                                                      if p["in"] == "query"}}
            codes = ", ".join(c for c in op["responses"] if c not in ("200",))
            parts.append(
                f"<div class='op' data-method='{method}'><div><span class='m {method}'>{method}</span> "
                f"<code>{html.escape(path)}</code> — {html.escape(op['summary'])}</div>"
                f"{_fields_table(query, 'query')}{_fields_table(body or {}, 'body field')}"
                f"<div>errors: {html.escape(codes)}</div><input class='url' size='60' value='{html.escape(path)}'>"
                + (f"<textarea>{html.escape(json.dumps(example(body)))}</textarea>" if body is not None else "")
                + "<button onclick='send(this)'>send</button><pre class='out'></pre></div>")
    parts.append("</body></html>")
    return Response("".join(parts).encode("utf-8"), content_type="text/html; charset=utf-8")


def root_html(info: dict[str, Any]) -> bytes:
    """The root page for a browser: what the mock is, with links to its docs and controls."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td><a href='{html.escape(v)}'>{html.escape(v)}</a></td></tr>"
                   for k, v in info["endpoints"].items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(info['mock'])}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(info['mock'])} ({html.escape(info['name'])})</h1>"
            f"<p>{html.escape(info['description'])}</p><p>This is a mocktools test double. Its control API: "
            f"<a href='{html.escape(info['docs'])}'>docs</a> · <a href='{html.escape(info['openapi'])}'>"
            f"openapi.json</a> · <a href='{html.escape(info['controls'])}'>/_mock</a></p>"
            f"<table>{rows}</table></body></html>").encode()


__all__ = ["docs_page", "example", "openapi_document", "root_html"]
