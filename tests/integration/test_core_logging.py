"""`logging.getLogger("mocktools.<mock>")`: lifecycle, faults and requests, one line each, off by default."""
from __future__ import annotations

import logging
import subprocess
import sys

import grpc
import pytest
import requests

from mocktools import MockE6DataServer, MockOFDServer


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_lifecycle_faults_and_requests_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mocktools")
    with MockOFDServer() as ofd:
        ofd.set_failure_count(1, status=503)
        assert requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "A"}, timeout=5).status_code == 503
        assert requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "A"}, timeout=5).status_code == 200
    lines = _lines(caplog, "mocktools.ofd")
    assert lines[0].startswith("ofd started on http://127.0.0.1:")
    assert "ofd fault set: failure_count n=1 status=503" in lines
    assert "ofd fault applied to POST /ofd/v1/receipt: status:503" in lines
    assert any(line.startswith("ofd POST /ofd/v1/receipt -> 503 [fault status:503]") for line in lines)
    assert any(line.startswith("ofd POST /ofd/v1/receipt -> 200 ") for line in lines)
    assert lines[-1] == "ofd stopped (2 calls recorded)"
    assert all(line.startswith("ofd ") for line in lines)  # every line names the mock


def test_grpc_calls_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mocktools.e6data")
    with MockE6DataServer() as mock, grpc.insecure_channel(f"127.0.0.1:{mock.port}") as channel:
        call = channel.unary_unary("/QueryEngineService/healthCheck")
        call(b"", timeout=5)
    assert any(line.startswith("e6data RPC /QueryEngineService/healthCheck -> OK")
               for line in _lines(caplog, "mocktools.e6data"))


def test_verbose_access_lines_name_the_mock(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mocktools")
    with MockOFDServer(verbose=True) as ofd:
        requests.get(f"{ofd.url}/ofd/v1/health", timeout=5)
    access = [r for r in caplog.records if r.name == "mocktools.ofd" and "/ofd/v1/health" in r.getMessage()]
    assert access and access[0].levelno == logging.INFO and access[0].getMessage().startswith("ofd GET ")


def test_silent_by_default() -> None:
    code = ("import logging, requests; logging.basicConfig(level=logging.WARNING)\n"
            "from mocktools import MockOFDServer\n"
            "with MockOFDServer() as m:\n"
            "    m.set_failure_count(1); requests.post(m.url + '/ofd/v1/receipt', json={})\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == ""
