"""gc_tuning changes the process's collector only when asked (issue 15)."""
from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mocktools import gc_tuning
from mocktools.ofd import MockOFDServer


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_mock_leaves_the_collector_alone_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gc_tuning.ENV, raising=False)
    with MockOFDServer():
        assert gc.get_freeze_count() == 0
    assert not gc_tuning.freeze_if_asked()


@pytest.mark.parametrize("value", ["1", "true", "YES"])
def test_the_environment_variable_freezes_when_a_mock_listens(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(gc_tuning.ENV, value)
    with MockOFDServer():
        assert gc.get_freeze_count() > 0


def test_freeze_startup_objects_returns_the_frozen_count() -> None:
    frozen = gc_tuning.freeze_startup_objects()
    # frozen objects whose last reference goes are still freed (and leave the count), so compare loosely
    assert frozen > 0 and gc.get_freeze_count() > 0
