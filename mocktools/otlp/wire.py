"""OTLP/HTTP, the collector's public HTTP protocol: POST /v1/traces, /v1/metrics, /v1/logs in
protobuf or JSON (gzip/deflate), answered in the request's encoding; errors are a
`google.rpc.Status` body, as a collector sends them (the core's 404/405/413 and injected faults too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from mocktools.errors import ApiError
from mocktools.otlp import codec
from mocktools.otlp.codec import SIGNALS
from mocktools.routing import Router

if TYPE_CHECKING:
    from mocktools.otlp.store import TelemetryStore

MAX_DECOMPRESSED = 20 * 1024 * 1024  # the spec's recommended limit after decompression
_CONTENT_TYPES = {"protobuf": codec.PROTOBUF, "json": codec.JSON}


class OTLPHTTPWire:
    """The HTTP routes of a collector that has a `store` and `max_decompressed_bytes`."""

    store: TelemetryStore
    max_decompressed_bytes: int
    _local: threading.local

    def register_routes(self, router: Router) -> None:
        for signal in SIGNALS.values():
            router.add(signal.path, self._exporter_for(signal.name), methods=["POST"])

    def _exporter_for(self, signal: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            return self._export(signal, request)

        handler.__name__ = f"export_{signal}"
        return handler

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable) -> Any:
        # Remember the request's encoding on this handler thread: errors (including the core's
        # 404/405/413 and injected faults) answer in it, as a collector does.
        self._local.encoding = codec.encoding_of(environ.get("CONTENT_TYPE")) or "json"
        return super().wsgi_app(environ, start_response)  # type: ignore[misc]

    def _export(self, signal_name: str, request: Request) -> Response:
        signal = SIGNALS[signal_name]
        content_type = request.headers.get("Content-Type")
        encoding = codec.encoding_of(content_type)
        if encoding is None:
            raise ApiError(
                415,
                f"unsupported Content-Type {codec.media_type(content_type) or 'none'!r}; "
                f"supported: {codec.PROTOBUF}, {codec.JSON}",
            )
        content_encoding = request.headers.get("Content-Encoding")
        data = codec.decompress(request.get_data(), content_encoding, self.max_decompressed_bytes)
        message = codec.parse_request(signal, data, encoding)
        headers = {k.lower(): v for k, v in request.headers.items()}
        result = self.store.ingest(
            signal_name,
            message,
            transport="http",
            encoding=encoding,
            body=data,
            headers=headers,
            content_encoding=content_encoding,
        )
        request.environ["mocktools.meta"] = {
            "signal": signal_name,
            "encoding": encoding,
            "accepted": result.accepted,
            "rejected": result.rejected,
        }
        body = codec.encode_message(codec.export_response(signal, result.rejected, result.message), encoding)
        return Response(body, 200, content_type=_CONTENT_TYPES[encoding])

    def error_response(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        """A google.rpc.Status body in the request's encoding (JSON when it had none we know)."""
        encoding = getattr(self._local, "encoding", "json")
        body = codec.status_body(status, message, encoding)
        return Response(body, status, headers=dict(headers or {}), content_type=_CONTENT_TYPES[encoding])



__all__ = ["MAX_DECOMPRESSED", "OTLPHTTPWire"]
