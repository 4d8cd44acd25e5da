"""A cassette our proxy recorded replays under pytest-recording's `@pytest.mark.vcr` (the other
direction, a vcrpy-written cassette replayed here, is in test_record_replay.py)."""
from __future__ import annotations

import pytest
import requests

from mocktools import MockOFDServer
from mocktools.record import record

RECORDED: dict[str, object] = {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """pytest-recording's cassette folder for this module, filled by our recording proxy first."""
    folder = tmp_path_factory.mktemp("cassettes")
    with MockOFDServer() as ofd, record(ofd.url, folder / "test_pytest_recording_replays_ours.yaml") as proxy:
        RECORDED["url"] = ofd.url
        RECORDED["ack"] = requests.post(f"{proxy.url}/ofd/v1/receipt", json={"document_id": "P-1"}, timeout=5).json()
    return str(folder)


@pytest.mark.vcr
def test_pytest_recording_replays_ours() -> None:
    response = requests.post(f"{RECORDED['url']}/ofd/v1/receipt", json={"document_id": "P-1"}, timeout=5)
    assert response.json() == RECORDED["ack"]  # the OFD mock is stopped: pytest-recording answered
