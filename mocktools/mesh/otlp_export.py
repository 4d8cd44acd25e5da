"""Export recorded mesh spans as OTLP/HTTP protobuf to any collector (MockOTLPCollector included).

Messages come from ``opentelemetry-proto`` (no hand-rolled encoding); one ResourceSpans per
service, with ``service.name`` and ``service.instance.id`` resource attributes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2

from .spans import MeshSpan
from mocktools.errors import WireError

__all__ = ["spans_to_request", "export_spans", "export_target_rule", "OTLPExportError", "ExportForbidden"]

SCOPE = InstrumentationScope(name="mocktools.mesh", version="1")
_KIND = {"server": trace_pb2.Span.SPAN_KIND_SERVER, "client": trace_pb2.Span.SPAN_KIND_CLIENT,
         "producer": trace_pb2.Span.SPAN_KIND_PRODUCER, "internal": trace_pb2.Span.SPAN_KIND_INTERNAL}


class OTLPExportError(WireError, RuntimeError):
    """The collector refused or could not be reached; ``status`` is its HTTP status or 0.

    On the mesh's control API it answers 502 `export_failed` (a bad gateway, whatever the
    collector said)."""

    type = "export_failed"

    def __init__(self, message: str, status: int = 0):
        super().__init__(message, status=status)

    @property
    def wire_status(self) -> int:
        return 502


def _value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    return AnyValue(string_value=str(v))


def _attrs(d: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=str(k), value=_value(v)) for k, v in d.items()]


def _nanos(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _span(s: MeshSpan) -> trace_pb2.Span:
    attrs: dict[str, Any] = {"mesh.service": s.service, "mesh.instance": s.instance, "mesh.endpoint": s.endpoint}
    if s.status_code:
        attrs["http.response.status_code"] = s.status_code
    attrs.update(s.attributes)
    code = trace_pb2.Status.STATUS_CODE_ERROR if s.status == "error" else trace_pb2.Status.STATUS_CODE_UNSET
    return trace_pb2.Span(
        trace_id=bytes.fromhex(s.trace_id),
        span_id=bytes.fromhex(s.span_id),
        parent_span_id=bytes.fromhex(s.parent_span_id) if s.parent_span_id else b"",
        name=s.name,
        kind=_KIND.get(s.kind, trace_pb2.Span.SPAN_KIND_INTERNAL),
        start_time_unix_nano=_nanos(s.start),
        end_time_unix_nano=_nanos(s.end),
        attributes=_attrs(attrs),
        events=[trace_pb2.Span.Event(time_unix_nano=_nanos(e.time), name=e.name, attributes=_attrs(e.attributes))
                for e in s.events],
        status=trace_pb2.Status(code=code),
    )


def spans_to_request(spans: Iterable[MeshSpan]) -> ExportTraceServiceRequest:
    """Group spans by (service, instance) into ResourceSpans."""
    groups: dict[tuple[str, str], list[MeshSpan]] = {}
    for s in spans:
        groups.setdefault((s.service, s.instance), []).append(s)
    req = ExportTraceServiceRequest()
    for (service, instance), items in groups.items():
        rs = req.resource_spans.add()
        rs.resource.CopyFrom(Resource(attributes=_attrs({"service.name": service, "service.instance.id": instance})))
        ss = rs.scope_spans.add()
        ss.scope.CopyFrom(SCOPE)
        ss.spans.extend(_span(s) for s in items)
    return req


def traces_url(endpoint: str) -> str:
    """Accept a collector base URL (http://host:4318) or the full /v1/traces URL."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


class ExportForbidden(OTLPExportError):
    """The target is not one the mesh's own topology allows (answered as HTTP 403)."""

    def __init__(self, message: str):
        super().__init__(message, 403)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExportForbidden(f"export endpoint must be an http(s) URL, got {url[:200]!r}")
    if parts.username or parts.password:
        raise ExportForbidden("export endpoint must not carry userinfo")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ExportForbidden(f"export endpoint has an invalid port: {url[:200]!r}") from None
    return parts.scheme, parts.hostname.lower(), port


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def export_target_rule(endpoint: str, configured: str | None, mesh_on_loopback: bool) -> None:
    """Raise ExportForbidden unless the mesh's own topology says spans may go to `endpoint`.

    Allowed: the mesh's configured `otlp_endpoint` (same scheme, host and port), or, when the
    mesh itself is bound to loopback, any loopback collector. Anything else is refused, so the
    control API cannot be used to make the mesh POST to (and echo) an arbitrary URL.
    """
    scheme, host, port = _origin(endpoint)
    if configured and _origin(configured) == (scheme, host, port):
        return
    if mesh_on_loopback and _is_loopback_host(host):
        return
    allowed = f"the mesh's otlp_endpoint ({configured})" if configured else "no otlp_endpoint is configured"
    raise ExportForbidden(
        f"export to {scheme}://{host}:{port} refused: spans go only to the mesh's configured otlp_endpoint "
        f"or, when the mesh is bound to loopback, to a loopback collector ({allowed})")


def export_spans(spans: Iterable[MeshSpan], endpoint: str, *, timeout: float = 10.0,
                 headers: dict[str, str] | None = None, session: requests.Session | None = None) -> int:
    """POST the spans as one protobuf ExportTraceServiceRequest; return how many were sent.

    Raises :class:`OTLPExportError` on a non-2xx answer, a partial rejection, or no connection.
    """
    items = list(spans)
    if not items:
        return 0
    body = spans_to_request(items).SerializeToString()
    hdrs = {"Content-Type": "application/x-protobuf", **(headers or {})}
    http = session or requests
    try:
        resp = http.post(traces_url(endpoint), data=body, headers=hdrs, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise OTLPExportError(f"OTLP export to {endpoint} failed: {exc}") from exc
    if not 200 <= resp.status_code < 300:
        raise OTLPExportError(f"OTLP collector answered {resp.status_code}: {resp.text[:200]}", resp.status_code)
    if resp.content and resp.headers.get("Content-Type", "").startswith("application/x-protobuf"):
        answer = ExportTraceServiceResponse()
        try:
            answer.ParseFromString(resp.content)
        except Exception:  # noqa: BLE001 - a collector with a broken body still accepted the spans
            return len(items)
        rejected = answer.partial_success.rejected_spans
        if rejected:
            raise OTLPExportError(f"collector rejected {rejected} spans: {answer.partial_success.error_message}",
                                  resp.status_code)
    return len(items)
