"""A user's test module typed against the plugin's fixtures; `mypy --strict` must pass on it."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from mocktools import FakeClock, MockOFDServer, MockRegistry, MockServiceMesh


@pytest.fixture
def mocktools_ofd_kwargs(mocktools_clock: FakeClock) -> dict[str, Any]:
    return {"clock": mocktools_clock, "seed": 1}


def test_ofd(mock_ofd: MockOFDServer, mocktools_clock: FakeClock) -> None:
    mock_ofd.set_failure_count(1)
    assert requests.post(f"{mock_ofd.url}/ofd/v1/receipt", json={}, timeout=5).status_code == 503
    mocktools_clock.advance(60)
    assert mock_ofd.get_call_count() == 1


@pytest.mark.mocktools(mesh={"spec": {"services": {"api": {}}}})
def test_mesh(mock_mesh: MockServiceMesh, mock_registry: MockRegistry) -> None:
    assert "api" in mock_mesh.spec.services and len(mock_registry) == 0
