"""What a report shows, read from live mocks: journals, faults applied (derived from the journal's
``fault`` field), traces, the mesh's breakers and chaos, and the timeline lanes built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .timeline_svg import Lane, Segment, breaker_segments

__all__ = ["BODY_CHARS", "BODY_LINES", "MockView", "collect", "control_marks", "decoded_body", "pretty_body",
           "timeline_lanes"]

BODY_CHARS, BODY_LINES = 4000, 80


@dataclass
class MockView:
    name: str
    mock: Any
    kind: str  # "mesh", "otlp" or "http"
    records: list[tuple[str, Any]] = field(default_factory=list)  # (where, CallRecord) newest last
    total_calls: int = 0
    faults: list[tuple[float, str, Any]] = field(default_factory=list)  # (time, where, record)


def pretty_body(body: bytes, parsed: Any = None, content_type: str = "") -> tuple[str, str]:
    """(text to show, note) — JSON indented, text as is, binary as a hex dump; cut to a readable size."""
    if not body:
        return "", ""
    if parsed is not None:
        shown = json.dumps(parsed, indent=2, ensure_ascii=False, default=str)
    else:
        try:
            shown = body.decode("utf-8")
            if any(ord(c) < 9 for c in shown[:512]):
                raise UnicodeDecodeError("utf-8", body, 0, 1, "control bytes")
        except UnicodeDecodeError:
            head = body[:256]
            lines = [f"{i:04x}  {head[i:i + 16].hex(' '):<47}  "
                     + "".join(chr(b) if 32 <= b < 127 else "." for b in head[i:i + 16])
                     for i in range(0, len(head), 16)]
            more = f"; first {len(head)} shown" if len(body) > len(head) else ""
            return "\n".join(lines), f"binary {content_type or 'body'}, {len(body)} bytes{more}"
    note = ""
    lines = shown.splitlines()
    if len(lines) > BODY_LINES:
        shown = "\n".join(lines[:BODY_LINES])
        note = f"{len(lines) - BODY_LINES} more lines not shown"
    if len(shown) > BODY_CHARS:
        shown = shown[:BODY_CHARS]
        note = f"cut at {BODY_CHARS} characters"
    if note:
        note += f" (body is {len(body)} bytes)"
    return shown, note


def decoded_body(record: Any) -> Any | None:
    """An OTLP protobuf export (HTTP or gRPC) as its OTLP/JSON document, so a person can read it."""
    meta = record.meta if isinstance(record.meta, dict) else {}
    from ..otlp import codec

    signal = codec.SIGNALS.get(str(meta.get("signal")))
    if signal is None:
        signal = next((s for s in codec.SIGNALS.values() if s.grpc_method == record.path), None)
    elif meta.get("encoding") != "protobuf":
        return None
    if signal is None or not record.body:
        return None
    try:
        data = codec.decompress(record.body, record.headers.get("Content-Encoding"), 64 * 1024 * 1024)
        return codec.message_to_otlp_json(codec.parse_request(signal, data, "protobuf"))
    except Exception:  # noqa: BLE001 - a body the collector itself refused stays a hex dump
        return None


def _kind(mock: Any) -> str:
    if hasattr(mock, "graph") and hasattr(mock, "chaos"):
        return "mesh"
    if hasattr(mock, "get_trace") and hasattr(mock, "store"):
        return "otlp"
    return "http"


def collect(name: str, mock: Any, max_records: int = 200) -> MockView:
    view = MockView(name, mock, _kind(mock))
    journals: list[tuple[str, Any]] = [(name, mock.journal)]
    if view.kind == "mesh":
        journals += [(inst.instance_id, inst.journal) for group in list(mock.instances.values()) for inst in group]
    records: list[tuple[str, Any]] = []
    for where, journal in journals:
        view.total_calls += journal.count()
        for r in journal.calls():
            records.append((where, r))
            if r.fault:
                view.faults.append((r.time, where, r))
    records.sort(key=lambda wr: (wr[1].time, wr[1].seq))
    view.records = records[-max_records:]
    view.faults.sort(key=lambda f: f[0])
    return view


def control_marks(timeline: Any) -> list[tuple[float, str]]:
    """A registry timeline's fired controls at their clock time (it counts seconds since it began)."""
    origin = timeline.clock.time() - timeline.now
    return [(origin + e.fired_at, e.label) for e in list(timeline.fired) if e.fired_at is not None]


def timeline_lanes(views: list[MockView], controls: list[tuple[float, str]] | None = None,
                   ) -> tuple[list[Lane], float, float]:
    """Lanes for every mock that injected faults, every breaker that moved, every chaos scenario,
    and the scheduled controls that fired."""
    lanes: list[Lane] = []
    times: list[float] = [t for t, _ in controls or []]
    if controls:
        lanes.append(Lane(f"scheduled controls ({len(controls)})", "controls", marks=list(controls)))
    for v in views:
        times += [r.time for _, r in v.records]
        by_where: dict[str, list[tuple[float, str]]] = {}
        for t, where, r in v.faults:
            by_where.setdefault(where, []).append((t, f"{r.fault} {r.method} {r.path}"))
        for where, marks in sorted(by_where.items()):
            label = f"{v.name}: faults" if where == v.name else f"{v.name}/{where}: faults"
            lanes.append(Lane(f"{label} ({len(marks)})", "faults", marks=marks))
    mesh_lanes: list[tuple[Any, list[dict[str, Any]], list[dict[str, Any]], float]] = []
    for v in views:
        if v.kind != "mesh":
            continue
        mesh = v.mock
        events = [e.to_dict() for e in mesh.breakers.edge_events()]
        offset = mesh.clock.time() - mesh.clock.monotonic()  # scenarios are scheduled on the monotonic clock
        scenarios = mesh.chaos.scenarios()
        times += [float(e["time"]) for e in events]
        times += [s["start"] + offset for s in scenarios]
        times += [mesh.clock.time()] if events or scenarios else []
        mesh_lanes.append((v, events, scenarios, offset))
    if not times:
        return lanes, 0.0, 1.0
    start, end = min(times), max(times)
    end = max(end, start + 1e-3)
    for v, events, scenarios, offset in mesh_lanes:
        edges: dict[str, list[dict[str, Any]]] = {}
        for e in events:
            edges.setdefault(str(e["edge"]), []).append(e)
        for edge, evs in sorted(edges.items()):
            lanes.append(Lane(f"{v.name} breaker {edge}", "breaker", segments=breaker_segments(evs, start, end)))
        for sc in scenarios:
            p = sc["params"]
            target = p.get("edge") or p.get("service") or "+".join(p.get("a", []) + p.get("b", []))
            s0 = sc["start"] + offset
            s1 = (sc["end"] + offset) if sc.get("end") is not None else end
            label = f"{sc['id']} {sc['kind']} {target} ({sc['status']})"
            lanes.append(Lane(f"{v.name} chaos {label}", "chaos", segments=[Segment(s0, max(s1, s0), "chaos",
                                                                                      label)]))
    return lanes, start, end
