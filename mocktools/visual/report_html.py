"""One self-contained HTML file of what every mock saw: open it from disk, no network, no script.

Per mock: the calls it received (bodies pretty-printed and cut to a readable size), the faults
it applied and when; for a mesh its graph, trace waterfalls, breakers and chaos; for a collector
its trace waterfalls; and one timeline of faults, breaker states and chaos across all of them.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .report_data import (
    MockView,
    collect,
    control_marks,
    decoded_body,
    pretty_body,
    timeline_lanes,
)
from .svg import fmt_duration
from .timeline_svg import render_timeline

__all__ = ["failure_box", "report_html", "write_report"]

MAX_TRACES = 6
CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#212121;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cfd8dc}main{padding:8px 24px 40px}
section.mock{background:#fff;border:1px solid #cfd8dc;border-radius:8px;margin:18px 0;padding:6px 18px 14px}
h2{font-size:18px;margin:12px 0 4px}h3{font-size:15px;margin:16px 0 6px;color:#37474f}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eceff1;
padding:3px 6px;text-align:left;vertical-align:top}th{background:#eceff1}
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.fault td{background:#ffebee}
.status-2{color:#2e7d32}.status-4{color:#e65100}.status-5,.status-none{color:#c62828;font-weight:bold}
pre{background:#f5f7fa;border:1px solid #e0e0e0;padding:6px 8px;overflow:auto;max-height:420px;margin:4px 0;
font:12px/1.35 'DejaVu Sans Mono',Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
.note{color:#6d4c41;font-size:12px}.pic{overflow:auto;border:1px solid #eceff1;margin:6px 0;max-height:900px}
.pic.fit svg{max-width:100%;height:auto}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#eceff1;margin-right:4px}
.pill.bad{background:#ffcdd2}.failure{background:#fff3e0;border:1px solid #ffb74d;border-radius:8px;
padding:8px 14px;margin:16px 0}details summary{cursor:pointer}nav a{margin-right:12px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S.%f")[:-3] if t else "—"


def _status_class(status: int | None) -> str:
    return "status-none" if status is None else f"status-{status // 100}"


def _journal(view: MockView, t0: float) -> str:
    if not view.records:
        return "<p>No calls received.</p>"
    shown = len(view.records)
    head = (f"<p>{view.total_calls} call(s) received"
            + (f"; the last {shown} are listed" if shown < view.total_calls else "") + ".</p>")
    rows = []
    for where, r in view.records:
        content_type = r.headers.get("Content-Type", "")
        decoded = decoded_body(r) if view.kind == "otlp" else None
        body, note = pretty_body(r.body, decoded if decoded is not None else r.json, content_type)
        if decoded is not None:
            note = f"protobuf ({len(r.body)} bytes) shown as OTLP/JSON" + (f"; {note}" if note else "")
        detail = ""
        if body or r.headers or r.meta:
            parts = [f"<pre>{_e(body)}</pre>" if body else ""]
            if note:
                parts.append(f"<div class='note'>{_e(note)}</div>")
            if r.meta:
                parts.append(f"<div class='note'>meta: {_e(json.dumps(r.meta, default=str))}</div>")
            hdrs = "\n".join(f"{k}: {v}" for k, v in sorted(r.headers.items()))
            parts.append(f"<details><summary>headers</summary><pre>{_e(hdrs)}</pre></details>")
            label = f"body ({len(r.body)} bytes)" if r.body else "details"
            detail = f"<details><summary>{label}</summary>{''.join(parts)}</details>"
        path = r.path + (f"?{r.query}" if r.query else "")
        rows.append(
            f"<tr class='{'fault' if r.fault else ''}'><td class='num'>{r.seq}</td>"
            f"<td>{_clock(r.time)}<br><span class='note'>+{fmt_duration(max(r.time - t0, 0))}</span></td>"
            + (f"<td>{_e(where)}</td>" if view.kind == "mesh" else "")
            + f"<td>{_e(r.method)}</td><td>{_e(path)}{detail}</td>"
            f"<td class='{_status_class(r.status)}'>{_e(r.status if r.status is not None else 'dropped')}</td>"
            f"<td class='num'>{r.duration * 1000:.1f} ms</td><td>{_e(r.fault or '')}</td></tr>")
    where = "<th>instance</th>" if view.kind == "mesh" else ""
    return (head + f"<table><tr><th>#</th><th>time</th>{where}<th>method</th><th>path / body</th><th>status</th>"
            "<th>took</th><th>fault</th></tr>" + "".join(rows) + "</table>")


def _faults(view: MockView) -> str:
    plan = view.mock.faults.describe() if hasattr(view.mock, "faults") else {}
    out = f"<p>Fault plan now: <code>{_e(json.dumps(plan, default=str))}</code></p>"
    if not view.faults:
        return out + "<p>No faults were applied to a recorded call.</p>"
    counts = Counter(r.fault for _, _, r in view.faults)
    out += "<p>" + "".join(f"<span class='pill bad'>{_e(k)} × {n}</span>" for k, n in counts.most_common()) + "</p>"
    rows = "".join(f"<tr class='fault'><td>{_clock(t)}</td><td>{_e(where)}</td><td>{_e(r.method)} {_e(r.path)}</td>"
                   f"<td>{_e(r.fault)}</td><td>{_e(r.status if r.status is not None else 'dropped')}</td></tr>"
                   for t, where, r in view.faults[-100:])
    return out + ("<table><tr><th>time</th><th>where</th><th>call</th><th>fault</th><th>answered</th></tr>"
                  + rows + "</table>")


def _pic(svg: str, fit: bool = True) -> str:
    """Inline SVG; a waterfall or timeline shrinks to the page, a wide graph keeps its size and scrolls."""
    return f"<div class='pic{' fit' if fit else ''}'>{svg.split('?>', 1)[-1]}</div>"


def _mesh_extra(view: MockView) -> str:
    from .waterfall_svg import waterfall_svg

    mesh = view.mock
    ids = mesh.spans.trace_ids()
    out = [] if mesh.running else [
        ("<p class='note'>The mesh is stopped: its instances, and the calls each of them received, are gone; "
        "spans, breakers, chaos and failed calls are kept. Report before stopping to see every instance.</p>")]
    out += ["<h3>Dependency graph</h3>", _pic(mesh.graph.to_svg(trace_id=ids[-1] if ids else None), fit=False)]
    events = mesh.breakers.edge_events()
    out.append(f"<h3>Circuit breakers ({len(mesh.breakers.states())} edges, {len(events)} transitions)</h3>")
    if events:
        out.append("<table><tr><th>time</th><th>edge</th><th>from</th><th>to</th><th>reason</th></tr>" + "".join(
            f"<tr><td>{_clock(e.time)}</td><td>{_e(e.edge)}</td><td>{_e(e.from_state)}</td><td>{_e(e.to_state)}</td>"
            f"<td>{_e(getattr(e, 'reason', ''))}</td></tr>" for e in events[-200:]) + "</table>")
    scenarios = mesh.chaos.scenarios()
    out.append(f"<h3>Chaos scenarios ({len(scenarios)})</h3>")
    if scenarios:
        out.append("<table><tr><th>id</th><th>kind</th><th>status</th><th>params</th><th>injections</th></tr>"
                   + "".join(f"<tr><td>{_e(s['id'])}</td><td>{_e(s['kind'])}</td><td>{_e(s['status'])}</td>"
                             f"<td><code>{_e(json.dumps(s['params'], default=str))}</code></td>"
                             f"<td class='num'>{s['injections']}</td></tr>" for s in scenarios) + "</table>")
    failed = mesh.failed_calls()
    if failed:
        out.append(f"<h3>Failed downstream calls ({len(failed)}, last 50)</h3><table><tr><th>time</th><th>caller"
                   "</th><th>callee</th><th>status</th><th>error</th><th>short-circuited</th></tr>" + "".join(
                       f"<tr><td>{_clock(f['time'])}</td><td>{_e(f['instance'])}</td><td>{_e(f['callee'])}"
                       f"{_e(f['endpoint'])}</td><td>{_e(f['status'])}</td><td>{_e(f['error'])}</td>"
                       f"<td>{'yes' if f['short_circuited'] else ''}</td></tr>" for f in failed[-50:]) + "</table>")
    out.append(f"<h3>Traces ({len(ids)}; the last {min(len(ids), MAX_TRACES)} drawn)</h3>")
    for tid in ids[-MAX_TRACES:]:
        out.append(_pic(waterfall_svg(mesh.trace(tid), title=f"mesh trace {tid}")))
    return "".join(out)


def _otlp_extra(view: MockView) -> str:
    from .waterfall_svg import waterfall_svg

    col = view.mock
    ids = col.get_trace_ids()
    counts = col.store.counts()
    out = [(f"<h3>Telemetry received</h3><p>{''.join(f'<span class=pill>{_e(k)}: {_e(v)}</span>' for k, v in counts.items())}"
           "</p>"), f"<h3>Traces ({len(ids)}; the last {min(len(ids), MAX_TRACES)} drawn)</h3>"]
    for tid in ids[-MAX_TRACES:]:
        out.append(_pic(waterfall_svg(col.get_trace(tid))))
    return "".join(out)


def _doubles(mock: Any) -> str:
    """Stubs, unmet expectations and unanswered requests (with near misses) of a mock that has them."""
    def value(name: str) -> list[Any]:
        found = getattr(mock, name, None)
        found = found() if callable(found) else found
        return list(found) if isinstance(found, (list, tuple)) else []

    stubs, unanswered = value("stubs"), value("unanswered")
    unmet_fn = getattr(mock, "unmet_expectations", None)
    unmet = list(unmet_fn()) if callable(unmet_fn) else []
    if not (stubs or unanswered or unmet):
        return ""
    out = [f"<h3>Stubs ({len(stubs)}), unmet expectations ({len(unmet)}), unanswered requests ({len(unanswered)})</h3>"]
    if stubs:
        out.append("<table><tr><th>stub</th><th>calls</th></tr>" + "".join(
            f"<tr><td><code>{_e(st.describe())}</code></td><td class='num'>{_e(getattr(st, 'calls', ''))}</td></tr>"
            for st in stubs[:200]) + "</table>")
    if unmet:
        out.append("<div class='failure'><b>Never used</b><pre>" + _e("\n".join(st.describe() for st in unmet))
                   + "</pre></div>")
    if unanswered:
        out.append("<div class='failure'><b>Nothing answered these</b><pre>"
                   + _e("\n".join(u.format() for u in unanswered[-50:])) + "</pre></div>")
    return "".join(out)


def _section(view: MockView, t0: float) -> str:
    m = view.mock
    statuses = Counter(r.status for _, r in view.records)
    grpc = getattr(m, "scheme", "http") == "grpc"  # statuses are gRPC codes: 0 is OK

    def bad(s: int | None) -> bool:
        return s is None or (s != 0 if grpc else s >= 400)

    pills = "".join(f"<span class='pill{' bad' if bad(s) else ''}'>{_e(s if s is not None else 'dropped')}"
                    f" × {n}</span>" for s, n in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    errors = getattr(m, "errors", [])
    parts = [(f"<section class='mock' id='mock-{_e(view.name)}'><h2>{_e(view.name)} "
             f"<small>({_e(type(m).__name__)}, {_e(m.url if m.running else 'stopped')})</small></h2>"),
             f"<p>{pills}</p>"]
    if errors:
        parts.append("<div class='failure'><b>Handler errors</b><pre>"
                     + _e("\n".join(f"{type(e).__name__}: {e}" for e in errors)) + "</pre></div>")
    if view.kind == "mesh":
        parts.append(_mesh_extra(view))
    elif view.kind == "otlp":
        parts.append(_otlp_extra(view))
    parts += [_doubles(m), "<h3>Faults applied</h3>", _faults(view), "<h3>Calls received</h3>", _journal(view, t0),
              "</section>"]
    return "".join(parts)


def _by_clock(views: list[MockView]) -> list[tuple[str, list[MockView]]]:
    """Mocks on the system clock share one timeline; each fake clock (its own epoch) gets its own."""
    from ..clock import SystemClock

    groups: dict[int, list[MockView]] = {}
    for v in views:
        clock = getattr(v.mock, "clock", None)
        groups.setdefault(0 if clock is None or isinstance(clock, SystemClock) else id(clock), []).append(v)
    out = []
    for key, group in groups.items():
        label = "" if key == 0 or len(groups) == 1 else f" (on the fake clock of {', '.join(v.name for v in group)})"
        out.append((label, group))
    return out


def _schedule(timeline: Any) -> str:
    rows = "".join(f"<tr><td class='num'>+{at:g}s</td><td><code>{_e(label)}</code></td>"
                   f"<td>{'fired' if at <= timeline.now + 1e-9 else 'pending'}</td></tr>"
                   for at, label in timeline.schedule()[:500])
    return (f"<h2>Scheduled controls (registry timeline, now +{timeline.now:g}s)</h2>"
            "<table><tr><th>at</th><th>control</th><th></th></tr>" + rows + "</table>")


def report_html(mocks: Iterable[tuple[str, Any]], *, title: str = "mocktools report", failure: str | None = None,
                max_records: int = 200, timeline: Any = None) -> str:
    """The report of ``mocks`` ((name, mock) pairs) as one HTML document; ``failure``: the test's error;
    ``timeline``: a registry's :class:`~mocktools.timeline.Timeline`, whose controls are drawn too."""
    views = [collect(name, mock, max_records) for name, mock in mocks]
    t0 = min((r.time for v in views for _, r in v.records), default=0.0)
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    nav = "".join(f"<a href='#mock-{_e(v.name)}'>{_e(v.name)} ({v.total_calls} calls, {len(v.faults)} faults)</a>"
                  for v in views)
    body = [f"<header><h1>{_e(title)}</h1><p>{len(views)} mock(s) · written {made}</p></header><main>",
            f"<nav>{nav}</nav>"]
    if failure:
        body.append(failure_box(failure))
    groups = _by_clock(views)
    shares = [any(getattr(v.mock, "clock", None) is getattr(timeline, "clock", 0) for v in g) for _, g in groups]
    with_controls = shares.index(True) if True in shares else 0  # the timeline's controls join its clock's lanes
    for i, (label, group) in enumerate(groups):
        controls = control_marks(timeline) if timeline is not None and i == with_controls else None
        lanes, start, end = timeline_lanes(group, controls)
        if lanes:
            body.append(f"<h2>Timeline: faults, breakers, chaos{_e(label)}</h2>"
                        + _pic(render_timeline(lanes, start, end, title="faults, breakers and chaos").svg))
    if timeline is not None and timeline.schedule():
        body.append(_schedule(timeline))
    body += [_section(v, t0) for v in views]
    body.append("</main>")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" + _e(title) + "</title>"
            "<meta name='viewport' content='width=device-width'><style>" + CSS + "</style></head><body>"
            + "".join(body) + "</body></html>\n")


def failure_box(failure: str) -> str:
    return f"<div class='failure'><b>Test failure</b><pre>{_e(failure[-20000:])}</pre></div>"


def write_report(mocks: Iterable[tuple[str, Any]], path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`report_html` to ``path`` (parent folders made); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(report_html(mocks, **kwargs), encoding="utf-8")
    return target
