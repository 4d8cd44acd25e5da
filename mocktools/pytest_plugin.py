"""pytest fixtures for every mock, registered through the `pytest11` entry point.

`mock_<name>` (e.g. `mock_ofd`) gives a started mock, reset before the test and checked after
it (a handler exception fails the test). The server itself is started once per session (per
xdist worker, on a free port), so tests stay fast. `mock_registry` gives an empty MockRegistry
that is stopped after the test.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from .catalog import CATALOG, get_mock_class
from .mock_group import MockRegistry
from .lifecycle import MockServerBase


def _fixtures_for(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    @pytest.fixture(scope="session", name=f"_mocktools_session_{name}")
    def session_mock() -> Iterator[MockServerBase]:
        mock = get_mock_class(name)()
        mock.start()
        yield mock
        mock.stop()

    @pytest.fixture(name=f"mock_{name}")
    def mock(request: pytest.FixtureRequest) -> Iterator[MockServerBase]:
        instance: MockServerBase = request.getfixturevalue(f"_mocktools_session_{name}")
        instance.reset()
        yield instance
        try:
            instance.check()
        finally:
            instance.reset()

    mock.__doc__ = f"A started {CATALOG[name].class_name}, reset before and after the test."
    return session_mock, mock


for _name in CATALOG:
    _session, _function = _fixtures_for(_name)
    globals()[f"_mocktools_session_{_name}"] = _session
    globals()[f"mock_{_name}"] = _function


@pytest.fixture
def mock_registry() -> Iterator[MockRegistry]:
    """An empty MockRegistry; add mocks, `start()` it; it is stopped after the test."""
    registry = MockRegistry()
    yield registry
    registry.stop()
