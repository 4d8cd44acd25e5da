"""MockHTTPServer: any HTTP dependency as a mock — your own Flask/WSGI app, stubs, or a cassette.

It is an HTTPMockServer like the built-in mocks (one lifecycle, fault plan, journal, `/_mock/`,
registry and fixtures); its "own routes" are the app you give it, or a recorded cassette (see
mocktools.record), or nothing: then it answers only stubs and every other request is a 404
naming the nearest stubs and fails `check()`.
"""
from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from ..clock import Clock
from ..errors import ApiError
from ..http_mock import HTTPMockServer
from ..record.backend import RECORD_MODES, CassetteBackend
from ..record.cassette import DEFAULT_MATCH_ON, Cassette
from ..routing import Router
from .routes import call_wsgi, wsgi_route_exists


def _is_flask(app: Any) -> bool:
    try:
        from flask import Flask
    except ImportError:  # pragma: no cover - flask is a dependency
        return False
    return isinstance(app, Flask)


class MockHTTPServer(HTTPMockServer):
    """Serve a WSGI app (Flask first of all), a cassette, or only stubs, with every mock control."""

    name = "http"
    default_port = 8080
    protocol = "any HTTP: your WSGI app, stubs, a cassette"
    strict_unanswered = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, app: Callable[..., Any] | None = None,
                 cassette: str | os.PathLike[str] | Cassette | None = None, upstream: str | None = None,
                 record_mode: str | None = None, match_on: Sequence[str] = DEFAULT_MATCH_ON, speed: float = 1.0,
                 allow_repeats: bool = True, redact_headers: Iterable[str] | None = None,
                 redact_query: Iterable[str] | None = None, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None, engine: str | None = None) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes, engine=engine)
        if app is not None and (cassette is not None or upstream is not None):
            raise ValueError("give MockHTTPServer an app, or a cassette/upstream, not both")
        self.app = app
        self._flask = _is_flask(app)
        if self._flask:
            from flask import got_request_exception

            got_request_exception.connect(self._on_app_exception, app)
        self.recorder: CassetteBackend | None = None
        if cassette is not None or upstream is not None:
            self.recorder = CassetteBackend(self, cassette, upstream=upstream, record_mode=record_mode,
                                            match_on=match_on, speed=speed, allow_repeats=allow_repeats,
                                            redact_headers=redact_headers, redact_query=redact_query)

    def _on_app_exception(self, sender: Any, exception: BaseException, **extra: Any) -> None:
        """A view of the user's Flask app raised: Flask answers its 500, the test fails in check()."""
        from flask import request

        if request.environ.get("mocktools.mock") is self:  # one app may serve several mocks
            self.record_error(exception)

    def register_admin_routes(self, router: Router) -> None:
        router.add("/_mock/cassette", self._cassette_info)
        router.add("/_mock/cassette/save", self._cassette_save, methods=["POST"])

    def _cassette_info(self, request: Request) -> Any:
        if self.recorder is None:
            raise ApiError(404, "this mock has no cassette", type="no_cassette")
        return {"path": self.recorder.cassette.path, "mode": self.recorder.record_mode,
                "upstream": self.recorder.upstream, "match_on": list(self.recorder.match_on),
                "interactions": [i.describe() for i in self.recorder.cassette.interactions],
                "unused": [i.describe() for i in self.recorder.unused]}

    def _cassette_save(self, request: Request) -> Any:
        if self.recorder is None:
            raise ApiError(404, "this mock has no cassette", type="no_cassette")
        if self.recorder.cassette.path is None:
            raise ApiError(409, "the cassette has no path to save to", type="no_cassette_path")
        return {"saved": self.recorder.cassette.save(), "interactions": len(self.recorder.cassette)}

    @property
    def cassette(self) -> Cassette | None:
        return self.recorder.cassette if self.recorder is not None else None

    def save_cassette(self) -> str | None:
        """Write what was recorded so far (stop() does it too)."""
        return self.recorder.save() if self.recorder is not None else None

    # -- the request path: stubs, then added routes, then the app ----------------------------
    def has_own_route(self, environ: dict[str, Any]) -> bool:
        if self.recorder is not None:
            return True
        if self.app is None:
            return False
        return wsgi_route_exists(self.app, environ) if self._flask else True

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        answered = self.dispatch_doubles(request, environ)
        if answered is not None:
            return answered
        if self.recorder is not None:
            return self.recorder.serve(request, environ)
        assert self.app is not None
        environ["mocktools.mock"] = self
        try:
            response = call_wsgi(self.app, request, environ)
        except Exception as exc:  # noqa: BLE001 - the app let an exception out: answer 500, fail check()
            self.record_error(exc)
            return self.error_response(500, f"app raised {type(exc).__name__}: {exc}", type="app_error")
        return response  # the listener guards a streamed body

    # -- lifecycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop serving, then write the cassette if anything was recorded."""
        super().stop()
        if self.recorder is not None:
            self.recorder.save()

    def status(self) -> dict[str, Any]:
        status = super().status()
        if self.recorder is not None:
            status["cassette"] = {"path": self.recorder.cassette.path, "mode": self.recorder.record_mode,
                                  "interactions": len(self.recorder.cassette), "upstream": self.recorder.upstream}
        return status

    # -- CLI: `mocktools serve http --app pkg.module:app` or `--cassette FILE` -------------------
    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--app", default=None, help="a WSGI app to serve, as module:attribute")
        parser.add_argument("--cassette", default=None, help="a VCR.py cassette to replay (or record into)")
        parser.add_argument("--upstream", default=None, help="record from this upstream URL")
        parser.add_argument("--record-mode", choices=RECORD_MODES, default=None, help="vcrpy's record modes")
        parser.add_argument("--match-on", default=",".join(DEFAULT_MATCH_ON),
                            help="request fields a replay matches on (method,path,query,body,headers)")
        parser.add_argument("--speed", type=float, default=1.0, help="replay streamed chunks this many times faster")

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockHTTPServer:
        app = None
        if getattr(args, "app", None):
            module, _, attr = args.app.partition(":")
            app = getattr(importlib.import_module(module), attr or "app")
        return cls(app=app, cassette=getattr(args, "cassette", None), upstream=getattr(args, "upstream", None),
                   record_mode=getattr(args, "record_mode", None),
                   match_on=[f for f in getattr(args, "match_on", ",".join(DEFAULT_MATCH_ON)).split(",") if f],
                   speed=getattr(args, "speed", 1.0), **kwargs)


__all__ = ["MockHTTPServer"]
