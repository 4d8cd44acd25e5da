"""The pytest fixtures run check() at teardown: an unmet stub or an unanswered request fails the test."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = '''
import requests


def test_unanswered(mock_http):
    mock_http.expect_request("/orders", method="POST").respond_with_json({})
    requests.get(mock_http.url_for("/orders"), timeout=5)


def test_unmet(mock_ofd):
    mock_ofd.expect_oneshot_request("/ofd/v1/receipt", method="POST").respond_with_json({"status": "stubbed"})


def test_clean(mock_http):
    mock_http.expect_request("/ok").respond_with_data("ok")
    assert requests.get(mock_http.url_for("/ok"), timeout=5).text == "ok"
'''


@pytest.mark.timeout(150)  # a child pytest: ~4 s on a quiet machine, far more under load
def test_fixture_teardown_fails_for_unmet_and_unanswered(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "test_user.py"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=140, check=False)
    out = result.stdout
    assert result.returncode == 1, out
    assert "3 passed, 2 errors" in out  # the test bodies pass; both teardowns fail
    assert "GET /orders: no stub or route matched" in out and "method    expected POST, got GET" in out
    assert "1 expected request(s) never came" in out and "oneshot stub-1: POST /ofd/v1/receipt" in out
