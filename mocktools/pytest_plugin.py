"""pytest fixtures for every mock, registered through the ``pytest11`` entry point.

``mock_<name>`` (e.g. ``mock_ofd``) gives a started mock. Unconfigured, it is one server per
session (per xdist worker, on a free port), reset before and after each test, so tests stay fast.
Configured - by the ``mocktools_<name>_kwargs`` fixture (override it in a conftest or a test
module, as pytest-httpserver lets you override its listen address) or by the marker
``@pytest.mark.mocktools(ofd={"seed": 1})`` - the test gets its own instance built with those
keywords, stopped after the test. Right after a passing test body every mock it used (registries
included) re-raises what its handlers raised, so the test itself fails instead of a 500 hiding
it; at teardown each fixture runs the mock's full ``check()`` (for HTTP mocks also unmet stubs
and unanswered requests, reported as teardown errors).

Nothing from mocktools is imported here at module level beyond the catalog module (whose mock
list is read lazily), so loading the plugin (which pytest does before coverage starts) stays
cheap; fixtures import their mock on use. Mocks that outside packages add through the
``mocktools.mocks`` entry point get the same fixtures, registered at ``pytest_configure``.
See docs/testing.md.
"""
from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from . import catalog
from .catalog import CATALOG

if TYPE_CHECKING:
    from .clock import FakeClock
    from .doubles.app_server import MockHTTPServer
    from .e6data import MockE6DataServer
    from .lifecycle import MockServerBase
    from .mesh import MockServiceMesh
    from .mock_group import MockRegistry
    from .ofd import MockOFDServer
    from .otlp import MockOTLPCollector
    from .redis.mock import MockRedisServer
    from .teraslice import MockTerasliceServer
    from .vllm import MockVLLMServer

MARKER = "mocktools"
_USED = pytest.StashKey[list[Any]]()  # what a test used that has a check(): mocks, registries


#: the shipped mocks, whose fixtures are written out below (typed for IDEs and type checkers)
WRITTEN_OUT = ("ofd", "otlp", "vllm", "teraslice", "e6data", "mesh", "http", "redis")


def pytest_configure(config: pytest.Config) -> None:
    _register_entry_point_fixtures(config)
    config.addinivalue_line(
        "markers", MARKER + "(**mocks): keyword arguments per mock for this test's mock_<name> fixtures, "
        "e.g. @pytest.mark.mocktools(ofd={'seed': 1}, mesh={'spec': 'mesh.yaml'}); "
        "a configured mock is a fresh instance for the test")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a passing test body, re-raise what the mocks it used raised inside their handlers."""
    result = yield
    for mock in item.stash.get(_USED, []):
        _handler_errors(mock)
    return result


def _handler_errors(mock: Any) -> None:
    """Only the handler-error part of a mock's check (stub expectations stay for teardown)."""
    getattr(mock, "check_handler_errors", mock.check)()


def marker_kwargs(node: pytest.Item | pytest.Collector, name: str) -> dict[str, Any]:
    """The keywords the ``mocktools`` markers on `node` give mock `name` (closest marker wins)."""
    merged: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            pytest.fail(f"@pytest.mark.{MARKER} takes keywords only (mock name=dict of kwargs), "
                        f"got positional {marker.args!r}", pytrace=False)
        unknown = sorted(set(marker.kwargs) - set(CATALOG))
        if unknown:
            pytest.fail(f"@pytest.mark.{MARKER}: unknown mock(s) {unknown}; known: {sorted(CATALOG)}", pytrace=False)
        value = marker.kwargs.get(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            pytest.fail(f"@pytest.mark.{MARKER}({name}=...) must be a dict of keyword arguments, "
                        f"got {type(value).__name__}", pytrace=False)
        merged.update(value)
    return merged


class _SessionMocks:
    """The shared, unconfigured mocks of this session (per xdist worker), started on first use."""

    def __init__(self) -> None:
        self.mocks: dict[str, MockServerBase] = {}

    def get(self, name: str) -> MockServerBase:
        mock = self.mocks.get(name)
        if mock is None:
            mock = self.mocks[name] = CATALOG[name].load()().start()
        return mock

    def stop(self) -> None:
        for mock in self.mocks.values():
            mock.stop()


@pytest.fixture(scope="session")
def _mocktools_session() -> Iterator[_SessionMocks]:
    mocks = _SessionMocks()
    yield mocks
    mocks.stop()


def _provide(request: pytest.FixtureRequest, name: str) -> Iterator[Any]:
    """The body of every ``mock_<name>`` fixture."""
    config = dict(request.getfixturevalue(f"mocktools_{name}_kwargs") or {})
    config.update(marker_kwargs(request.node, name))
    used = request.node.stash.setdefault(_USED, [])
    if not config:  # the shared instance, reset around the test
        instance = request.getfixturevalue("_mocktools_session").get(name)
        instance.reset()
        used.append(instance)
        try:
            yield instance
            instance.check()
        finally:
            instance.reset()
        return
    try:
        instance = CATALOG[name].load()(**config)
    except TypeError as exc:
        pytest.fail(f"mock_{name}: cannot build {CATALOG[name].class_name}(**{config!r}): {exc}", pytrace=False)
    instance.start()
    used.append(instance)
    try:
        yield instance
        instance.check()
    finally:
        instance.stop()


def _kwargs_doc(name: str) -> str:
    return (f"Keyword arguments for {CATALOG[name].class_name} in `mock_{name}` (default: none, the shared "
            f"instance). Override this fixture to configure it; a non-empty dict gives each test its own mock.")


# -- the shipped mocks: written out so IDEs and type checkers see each fixture's type ------------------
@pytest.fixture
def mocktools_ofd_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockOFDServer in `mock_ofd`; override to configure it (non-empty: a fresh mock per test)."""
    return {}


@pytest.fixture
def mocktools_otlp_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockOTLPCollector in `mock_otlp`; override to configure it (non-empty: a fresh mock per test)."""
    return {}


@pytest.fixture
def mocktools_vllm_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockVLLMServer in `mock_vllm`; override to configure it (non-empty: a fresh mock per test)."""
    return {}


@pytest.fixture
def mocktools_teraslice_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockTerasliceServer in `mock_teraslice`; override to configure it (non-empty: a fresh mock per test)."""
    return {}


@pytest.fixture
def mocktools_e6data_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockE6DataServer in `mock_e6data`; override to configure it (non-empty: a fresh mock per test)."""
    return {}


@pytest.fixture
def mocktools_http_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockHTTPServer in `mock_http`, e.g. ``{"app": flask_app}``."""
    return {}


@pytest.fixture
def mocktools_redis_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockRedisServer in `mock_redis`; override to configure it (non-empty: a fresh mock per test)."""
    return {}


@pytest.fixture
def mocktools_mesh_kwargs() -> dict[str, Any]:
    """Keyword arguments for MockServiceMesh in `mock_mesh`, e.g. ``{"spec": "mesh.yaml"}`` or ``{"spec": {...}}``."""
    return {}


@pytest.fixture
def mock_ofd(request: pytest.FixtureRequest) -> Iterator[MockOFDServer]:
    """A started MockOFDServer (see `mocktools_ofd_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "ofd")


@pytest.fixture
def mock_otlp(request: pytest.FixtureRequest) -> Iterator[MockOTLPCollector]:
    """A started MockOTLPCollector (see `mocktools_otlp_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "otlp")


@pytest.fixture
def mock_vllm(request: pytest.FixtureRequest) -> Iterator[MockVLLMServer]:
    """A started MockVLLMServer (see `mocktools_vllm_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "vllm")


@pytest.fixture
def mock_teraslice(request: pytest.FixtureRequest) -> Iterator[MockTerasliceServer]:
    """A started MockTerasliceServer (see `mocktools_teraslice_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "teraslice")


@pytest.fixture
def mock_e6data(request: pytest.FixtureRequest) -> Iterator[MockE6DataServer]:
    """A started MockE6DataServer (see `mocktools_e6data_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "e6data")


@pytest.fixture
def mock_mesh(request: pytest.FixtureRequest) -> Iterator[MockServiceMesh]:
    """A started MockServiceMesh; give it a spec through `mocktools_mesh_kwargs` or the marker."""
    yield from _provide(request, "mesh")


@pytest.fixture
def mock_http(request: pytest.FixtureRequest) -> Iterator[MockHTTPServer]:
    """A started MockHTTPServer (see `mocktools_http_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "http")


@pytest.fixture
def mock_redis(request: pytest.FixtureRequest) -> Iterator[MockRedisServer]:
    """A started MockRedisServer (see `mocktools_redis_kwargs` and the `mocktools` marker)."""
    yield from _provide(request, "redis")


def _generic_fixtures(name: str) -> dict[str, Callable[..., Any]]:
    """Fixtures for a catalog entry that has no written-out fixture above (e.g. an outside package's)."""

    def kwargs() -> dict[str, Any]:
        return {}

    def mock(request: pytest.FixtureRequest) -> Iterator[MockServerBase]:
        yield from _provide(request, name)

    kwargs.__doc__ = _kwargs_doc(name)
    mock.__doc__ = f"A started {CATALOG[name].class_name} (see `mocktools_{name}_kwargs` and the `mocktools` marker)."
    return {f"mocktools_{name}_kwargs": pytest.fixture(kwargs, name=f"mocktools_{name}_kwargs"),
            f"mock_{name}": pytest.fixture(mock, name=f"mock_{name}")}


def _register_entry_point_fixtures(config: pytest.Config) -> None:
    """Fixtures for the mocks of outside packages, as one extra plugin object. Built in a function,
    so no loop variable is left at module level (a leftover module attribute holding a fixture
    registers it a second time and breaks ``pytest --fixtures``); only when such entry points
    exist, because reading the catalog imports every mock."""
    if not catalog._entry_point_targets():
        return
    extra: dict[str, Callable[..., Any]] = {}
    for name in CATALOG:
        if name not in WRITTEN_OUT:
            extra.update(_generic_fixtures(name))
    if extra:
        holder = types.ModuleType("mocktools.pytest_plugin.entry_points")
        holder.__dict__.update(extra)
        config.pluginmanager.register(holder, "mocktools-entry-point-fixtures")


@pytest.fixture
def mocktools_clock() -> FakeClock:
    """A FakeClock for this test; pass it to a mock (``{"clock": mocktools_clock}``) to move its time."""
    from .clock import FakeClock

    return FakeClock()


@pytest.fixture
def mock_registry(request: pytest.FixtureRequest) -> Iterator[MockRegistry]:
    """An empty MockRegistry: add mocks, ``start()`` it. After a passing test its mocks' handler
    errors fail the test; at teardown each mock's full ``check()`` runs; then every mock stops."""
    from .mock_group import MockRegistry

    registry = MockRegistry()
    request.node.stash.setdefault(_USED, []).append(_RegistryCheck(registry))
    try:
        yield registry
        registry.check()
    finally:
        registry.stop()


class _RegistryCheck:
    """Adapts a registry to the `check()` the call hook runs, reading its mocks at check time."""

    def __init__(self, registry: MockRegistry) -> None:
        self.registry = registry

    def check(self) -> None:
        for _, mock in self.registry.items():
            _handler_errors(mock)
