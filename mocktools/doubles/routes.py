"""Extra routes on any HTTP mock, the Flask way: `@mock.route(...)`, `add_url_rule`, Blueprints.

The routes live in a small Flask app of their own that is rebuilt whenever a route is added
(Flask refuses new routes once an app has served a request), so a test can add a route at any
time and `reset()` drops them all. A view's exception is kept for `check()`, as in the mocks.
"""
from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from flask import Blueprint, Flask

    from .mixin import TestDoubles

View = Callable[..., Any]


def wsgi_route_exists(app: Any, environ: dict[str, Any]) -> bool:
    """Whether a Flask app has a rule for this path and method (NotFound or a wrong method: no)."""
    try:
        app.url_map.bind_to_environ(environ).match()
    except (NotFound, MethodNotAllowed):
        return False
    except RequestRedirect:
        return True
    return True


def call_wsgi(app: Callable[..., Any], request: Request, environ: dict[str, Any]) -> Response:
    """Run a WSGI app on this request (its body re-readable) and return its response, streaming kept."""
    environ["wsgi.input"] = io.BytesIO(request.get_data(cache=True))
    return Response.from_app(app, environ, buffered=False)


class UserRoutes:
    """The routes a test added to one mock; served after stubs and before the mock's own routes."""

    def __init__(self, mock: TestDoubles) -> None:
        self._mock = mock
        self._lock = threading.Lock()
        self._registrations: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._app: Flask | None = None

    def __bool__(self) -> bool:
        return bool(self._registrations)

    def _add(self, kind: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        with self._lock:
            self._registrations.append((kind, args, options))
            self._app = None
            app = self._build_locked()  # fail here, in the test, on a bad rule
            self._app = app
        self._mock._doubles_changed()

    def route(self, rule: str, **options: Any) -> Callable[[View], View]:
        def decorator(view: View) -> View:
            self.add_url_rule(rule, options.pop("endpoint", None), view, **options)
            return view
        return decorator

    def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: View | None = None,
                     **options: Any) -> None:
        self._add("rule", (rule, endpoint, view_func), options)

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        self._add("blueprint", (blueprint,), options)

    def clear(self) -> None:
        with self._lock:
            self._registrations.clear()
            self._app = None

    def _build_locked(self) -> Flask:
        from flask import Flask

        app = Flask(f"mocktools.{self._mock.name}.routes")
        app.config["PROPAGATE_EXCEPTIONS"] = True  # the mock answers 500 and keeps the error
        for i, (kind, args, options) in enumerate(self._registrations):
            if kind == "rule":
                rule, endpoint, view = args
                name = endpoint or f"{getattr(view, '__name__', 'view')}_{i}"
                app.add_url_rule(rule, name, view, **options)
            else:
                app.register_blueprint(args[0], **options)
        return app

    @property
    def app(self) -> Flask | None:
        with self._lock:
            if self._app is None and self._registrations:
                self._app = self._build_locked()
            return self._app

    def handles(self, environ: dict[str, Any]) -> bool:
        app = self.app
        return app is not None and wsgi_route_exists(app, environ)

    def serve(self, request: Request, environ: dict[str, Any]) -> Response:
        app = self.app
        assert app is not None
        mock = self._mock
        try:
            response = call_wsgi(app, request, environ)
        except Exception as exc:  # noqa: BLE001 - a bug in the test's own view: answer 500, fail check()
            mock.record_error(exc)
            return mock.error_response(500, f"route {request.path} raised {type(exc).__name__}: {exc}",
                                       type="route_error")
        return response  # the listener guards a streamed body


__all__ = ["UserRoutes", "call_wsgi", "wsgi_route_exists"]
