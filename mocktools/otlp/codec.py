"""OTLP wire codec: decompression, protobuf and OTLP/JSON decoding, response encoding.

Messages are the generated classes from `opentelemetry-proto`. `google.protobuf.json_format`
does the JSON work, but OTLP/JSON differs from protobuf's canonical JSON in one way that
matters: trace and span ids are hex strings, not base64. `_ids_to_base64` / `_ids_to_hex`
rewrite exactly those fields around json_format, so everything else (camelCase, integer
enums, 64-bit ints as strings or numbers, unknown fields ignored) is json_format's own logic.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from mocktools.errors import WireError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class CodecError(WireError, ValueError):
    """A request that cannot be decoded; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, status=status)


@dataclass(frozen=True)
class Signal:
    """Static facts about one OTLP signal (traces, metrics or logs)."""

    name: str
    path: str
    request_cls: type[Message]
    response_cls: type[Message]
    partial_cls: type[Message]
    rejected_field: str
    grpc_method: str


SIGNALS: dict[str, Signal] = {
    "traces": Signal(
        "traces",
        "/v1/traces",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        trace_service_pb2.ExportTracePartialSuccess,
        "rejected_spans",
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    ),
    "metrics": Signal(
        "metrics",
        "/v1/metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        metrics_service_pb2.ExportMetricsPartialSuccess,
        "rejected_data_points",
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    ),
    "logs": Signal(
        "logs",
        "/v1/logs",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        logs_service_pb2.ExportLogsPartialSuccess,
        "rejected_log_records",
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    ),
}

# Keys holding trace/span ids anywhere in an OTLP message (Span, Span.Link, LogRecord, Exemplar);
# snake_case spellings too, because json_format accepts both and we must not read hex as base64.
_ID_KEYS = {"traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8, "parentSpanId": 8, "parent_span_id": 8}


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json` (lower-case, no parameters)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def encoding_of(content_type: str | None) -> str | None:
    """'protobuf', 'json' or None for an unsupported media type."""
    mt = media_type(content_type)
    if mt == PROTOBUF:
        return "protobuf"
    if mt == JSON:
        return "json"
    return None


def decompress(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding` (gzip, deflate, identity); enforce `limit` on the result."""
    enc = (content_encoding or "").strip().lower()
    if enc in ("", "identity", "none"):
        data = body
    elif enc in ("gzip", "x-gzip"):
        data = _bounded_inflate(body, zlib.MAX_WBITS | 16, limit, "gzip")
    elif enc == "deflate":
        try:
            data = _bounded_inflate(body, zlib.MAX_WBITS, limit, "deflate")
        except CodecError as exc:
            if exc.status != 400:
                raise
            data = _bounded_inflate(body, -zlib.MAX_WBITS, limit, "deflate")  # raw deflate, no zlib header
    else:
        raise CodecError(f"unsupported Content-Encoding {content_encoding!r} (supported: gzip, deflate)", 415)
    if len(data) > limit:
        raise CodecError(f"request body of {len(data)} bytes exceeds the limit of {limit} bytes", 413)
    return data


def _bounded_inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    """Inflate without ever holding more than `limit` + 1 bytes (gzip bombs get a 413)."""
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise CodecError(f"invalid {name} body: {exc}") from exc
    if len(data) > limit:
        raise CodecError(f"decompressed body exceeds the limit of {limit} bytes", 413)
    if not inflater.eof:
        raise CodecError(f"invalid {name} body: truncated stream")
    return data


def parse_request(signal: Signal, data: bytes, encoding: str) -> Message:
    """Decode an Export*ServiceRequest from protobuf bytes or OTLP/JSON text."""
    msg = signal.request_cls()
    if encoding == "protobuf":
        try:
            msg.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise CodecError(f"cannot decode protobuf {signal.request_cls.__name__}: {exc}") from exc
        return msg
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CodecError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CodecError(f"OTLP/JSON body must be an object, got {type(doc).__name__}")
    try:
        json_format.ParseDict(_ids_to_base64(doc), msg, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise CodecError(f"invalid OTLP/JSON {signal.request_cls.__name__}: {exc}") from None
    return msg


def _ids_to_base64(node: Any) -> Any:
    """Copy of an OTLP/JSON document with hex id fields rewritten to base64 for json_format."""
    if isinstance(node, list):
        return [_ids_to_base64(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        size = _ID_KEYS.get(key)
        if size is not None and isinstance(value, str):
            out[key] = _hex_to_base64(key, value, size)
        else:
            out[key] = _ids_to_base64(value)
    return out


def _hex_to_base64(key: str, value: str, size: int) -> str:
    if value == "":
        return ""
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise CodecError(f"{key} must be a hex string, got {value[:40]!r}") from exc
    if len(raw) != size:
        raise CodecError(f"{key} must be {size * 2} hex characters, got {len(value)}")
    return base64.b64encode(raw).decode("ascii")


def message_to_otlp_json(msg: Message) -> dict[str, Any]:
    """A message as an OTLP/JSON document: camelCase, integer enums, hex ids."""
    doc = json_format.MessageToDict(msg, use_integers_for_enums=True)
    return _ids_to_hex(doc)


def _ids_to_hex(node: Any) -> Any:
    if isinstance(node, list):
        return [_ids_to_hex(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ID_KEYS and isinstance(value, str):
            try:
                out[key] = base64.b64decode(value, validate=True).hex()
            except (binascii.Error, ValueError):  # pragma: no cover - json_format always emits base64
                out[key] = value
        else:
            out[key] = _ids_to_hex(value)
    return out


def encode_message(msg: Message, encoding: str) -> bytes:
    """Serialize a response message in the request's encoding."""
    if encoding == "json":
        return json.dumps(message_to_otlp_json(msg), separators=(",", ":")).encode()
    return msg.SerializeToString()


def export_response(signal: Signal, rejected: int = 0, message: str = "") -> Message:
    """The Export*ServiceResponse; partial_success is set only when something is to be said."""
    resp = signal.response_cls()
    if rejected or message:
        partial = signal.partial_cls(error_message=message)
        setattr(partial, signal.rejected_field, rejected)
        resp.partial_success.CopyFrom(partial)
    return resp


_GRPC_CODE_FOR_HTTP = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    405: 12,  # UNIMPLEMENTED
    408: 4,  # DEADLINE_EXCEEDED
    413: 8,  # RESOURCE_EXHAUSTED
    415: 3,  # INVALID_ARGUMENT
    429: 8,  # RESOURCE_EXHAUSTED
    501: 12,  # UNIMPLEMENTED
    502: 14,  # UNAVAILABLE
    503: 14,  # UNAVAILABLE
    504: 4,  # DEADLINE_EXCEEDED
}


def grpc_code_for_http(status: int) -> int:
    """The google.rpc.Code a collector puts in Status.code for an HTTP status."""
    return _GRPC_CODE_FOR_HTTP.get(status, 13 if status >= 500 else 2)  # INTERNAL / UNKNOWN


def status_body(status: int, message: str, encoding: str) -> bytes:
    """A google.rpc.Status error body in the given encoding (JSON unless protobuf was asked)."""
    code = grpc_code_for_http(status)
    if encoding == "protobuf":
        return _status_proto(code, message)
    return json.dumps({"code": code, "message": message}).encode()


def _status_proto(code: int, message: str) -> bytes:
    try:
        from google.rpc import status_pb2  # googleapis-common-protos (comes with the OTLP exporters)
    except ImportError:  # pragma: no cover - depends on the environment
        # google.rpc.Status is two scalar fields here: code=1 (varint), message=2 (bytes).
        text = message.encode()
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return status_pb2.Status(code=code, message=message).SerializeToString()


def _varint(value: int) -> bytes:  # pragma: no cover - fallback path only
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def compress(data: bytes, content_encoding: str) -> bytes:
    """gzip or deflate a payload (used for responses and by tests/benchmarks building requests)."""
    if content_encoding == "gzip":
        return gzip.compress(data)
    if content_encoding == "deflate":
        return zlib.compress(data)
    return data
