"""Record and replay behind a MockHTTPServer: forward to an upstream and keep what came back,
or answer from a cassette, streamed bodies replayed chunk by chunk on the mock's clock.

Record modes are vcrpy's: `none` (replay only), `once` (replay if the cassette file exists,
else record), `new_episodes` (replay what matches, record the rest), `all` (always record).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import urllib3
from werkzeug.wrappers import Request, Response

from ..doubles.matchers import RequestView
from .cassette import DEFAULT_MATCH_ON, MATCH_FIELDS, Cassette, Interaction, Redactor

if TYPE_CHECKING:
    from ..doubles.app_server import MockHTTPServer

RECORD_MODES = ("none", "once", "new_episodes", "all")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "content-length", "host"}


def _streamed(response: urllib3.BaseHTTPResponse) -> bool:
    kind = response.headers.get("Content-Type", "")
    return bool(response.chunked) or kind.startswith("text/event-stream") or "Content-Length" not in response.headers


class CassetteBackend:
    """What a MockHTTPServer with a cassette or an upstream answers after its stubs and routes."""

    def __init__(self, mock: MockHTTPServer, cassette: str | os.PathLike[str] | Cassette | None = None, *,
                 upstream: str | None = None, record_mode: str | None = None,
                 match_on: Sequence[str] = DEFAULT_MATCH_ON, speed: float = 1.0, allow_repeats: bool = True,
                 redact_headers: Iterable[str] | None = None, redact_query: Iterable[str] | None = None,
                 upstream_timeout: float = 60.0) -> None:
        unknown = set(match_on) - set(MATCH_FIELDS)
        if unknown:
            raise ValueError(f"match_on fields must be among {MATCH_FIELDS}, got {sorted(unknown)}")
        if speed <= 0:
            raise ValueError("speed must be > 0 (float('inf') replays without waiting)")
        self.mock = mock
        self.upstream = upstream.rstrip("/") if upstream else None
        path = cassette.path if isinstance(cassette, Cassette) else cassette
        exists = path is not None and os.path.exists(path)
        mode = record_mode or ("once" if self.upstream else "none")
        if mode not in RECORD_MODES:
            raise ValueError(f"record_mode must be one of {RECORD_MODES}")
        if mode == "once":
            mode = "none" if exists else "all"
        if mode != "none" and self.upstream is None:
            raise ValueError(f"record_mode {mode!r} needs an upstream URL to record from")
        if mode == "none" and not exists and not isinstance(cassette, Cassette):
            raise FileNotFoundError(f"no cassette at {path!r} to replay (record it first, with an upstream)")
        if isinstance(cassette, Cassette):
            self.cassette = cassette
        elif exists and mode != "all":
            self.cassette = Cassette.load(path)  # type: ignore[arg-type]
        else:
            self.cassette = Cassette(path)
        self.record_mode = mode
        self.match_on = tuple(match_on)
        self.speed = float(speed)
        self.allow_repeats = allow_repeats
        self.redactor = Redactor(redact_headers, redact_query)
        self._lock = threading.Lock()
        self._used: set[int] = set()
        self._matchers = [i.matcher(self.match_on) for i in self.cassette.interactions]
        self._pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=upstream_timeout),
                                         retries=False) if self.upstream else None

    # -- replay ------------------------------------------------------------------------------
    def find(self, req: Any) -> Interaction | None:
        """The first unused recorded interaction that matches (else the last used one, if allowed)."""
        with self._lock:
            reuse = None
            for index, matcher in enumerate(self._matchers):
                if matcher.match(req):
                    if index not in self._used:
                        self._used.add(index)
                        return self.cassette.interactions[index]
                    reuse = index
            return self.cassette.interactions[reuse] if reuse is not None and self.allow_repeats else None

    def candidates(self) -> list[tuple[str, Any, list[Any]]]:
        return [(f"recorded #{i + 1} {inter.describe()}", matcher, [])
                for i, (inter, matcher) in enumerate(zip(self.cassette.interactions, self._matchers))]

    def replay(self, interaction: Interaction) -> Response:
        headers = [(k, v) for k, values in interaction.response_headers.items() if k.lower() not in HOP_BY_HOP
                   for v in values]
        if interaction.chunks is None:
            return Response(interaction.response_body, interaction.status, headers)
        return Response(self._replay_chunks(interaction.chunks), interaction.status, headers)

    def _replay_chunks(self, chunks: list[tuple[float, bytes]]) -> Iterator[bytes]:
        for delay, data in chunks:
            self.mock.wait_on_clock(delay / self.speed)
            if self.mock.stopping.is_set():
                return
            yield data

    @property
    def unused(self) -> list[Interaction]:
        """Recorded interactions no request has replayed yet."""
        with self._lock:
            return [i for n, i in enumerate(self.cassette.interactions) if n not in self._used]

    # -- the request path --------------------------------------------------------------------
    def serve(self, request: Request, environ: dict[str, Any]) -> Response:
        view = RequestView(request)
        if self.record_mode != "all":
            found = self.find(view)
            if found is not None:
                environ["mocktools.meta"] = {**(environ.get("mocktools.meta") or {}), "replayed": found.describe()}
                return self.replay(found)
        if self.record_mode in ("all", "new_episodes"):
            return self.forward(request, environ)
        return self.mock.unanswered_response(view.snapshot(), environ, candidates=self.candidates(),
                                             reason="no recorded interaction matches", type="no_recorded_match")

    # -- record ------------------------------------------------------------------------------
    def forward(self, request: Request, environ: dict[str, Any]) -> Response:
        assert self._pool is not None and self.upstream is not None
        query = environ.get("QUERY_STRING", "")
        uri = f"{self.upstream}{request.path}{'?' + query if query else ''}"
        headers = urllib3.HTTPHeaderDict()
        for name, value in request.headers.items():
            if name.lower() not in HOP_BY_HOP:
                headers.add(name, value)
        body = request.get_data(cache=True)
        clock = self.mock.clock
        sent = clock.monotonic()
        try:
            upstream = self._pool.request(request.method, uri, body=body or None, headers=headers,
                                          preload_content=False, decode_content=False, redirect=False)
        except urllib3.exceptions.HTTPError as exc:
            return self.mock.error_response(502, f"upstream {self.upstream} failed: {exc}", type="bad_gateway")
        interaction = Interaction(method=request.method, uri=self.redactor.uri(uri),
                                  request_headers=self.redactor.header_lists(
                                      (k, v) for k, v in request.headers.items() if k.lower() != "host"),
                                  request_body=body, status=upstream.status, reason=upstream.reason or "",
                                  response_headers=self.redactor.header_lists(upstream.headers.items()))
        out_headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]
        if not _streamed(upstream):
            interaction.response_body = upstream.read(decode_content=False)
            upstream.release_conn()
            self._keep(interaction)
            return Response(interaction.response_body, upstream.status, out_headers)
        return Response(self._relay(upstream, interaction, sent), upstream.status, out_headers)

    def _relay(self, upstream: Any, interaction: Interaction, sent: float) -> Iterator[bytes]:
        """Pass chunks through as they come, timing each on the mock's clock."""
        clock, chunks, last = self.mock.clock, [], sent
        pieces = upstream.read_chunked(decode_content=False) if upstream.chunked else upstream.stream(
            65536, decode_content=False)
        try:
            for piece in pieces:
                if not piece:
                    continue
                now = clock.monotonic()
                chunks.append((max(0.0, now - last), piece))
                last = now
                yield piece
        finally:
            upstream.release_conn()
            interaction.chunks = chunks
            interaction.response_body = b"".join(c for _, c in chunks)
            self._keep(interaction)

    def _keep(self, interaction: Interaction) -> None:
        with self._lock:
            self.cassette.append(interaction)
            self._matchers.append(interaction.matcher(self.match_on))
            self._used.add(len(self._matchers) - 1)

    def save(self) -> str | None:
        """Write the cassette if anything was recorded (and it has a path)."""
        if self.cassette.dirty and self.cassette.path is not None:
            return self.cassette.save()
        return None

    def close(self) -> None:
        self.save()
        if self._pool is not None:
            self._pool.clear()


__all__ = ["HOP_BY_HOP", "RECORD_MODES", "CassetteBackend"]
