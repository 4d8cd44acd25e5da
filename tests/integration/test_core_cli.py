"""The `mocktools` command: list, serve and up, with clean shutdown on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from mocktools import MockOFDServer, MockRegistry
from mocktools.cli import main, print_table, run_until_signalled


def test_list_prints_every_mock(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name, port in (("ofd", 9000), ("otlp", 4318), ("vllm", 8000), ("teraslice", 5678), ("e6data", 50051)):
        assert name in out and str(port) in out


def test_run_until_signalled_prints_table_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    registry = MockRegistry({"ofd": MockOFDServer()})
    stop = threading.Event()
    thread = threading.Thread(target=run_until_signalled, args=(registry,),
                              kwargs={"install_signals": False, "stop_event": stop})
    thread.start()
    while not registry["ofd"].running:
        stop.wait(0.001)
    assert requests.get(f"{registry['ofd'].url}/ofd/v1/health", timeout=5).ok
    stop.set()
    thread.join(5)
    out = capsys.readouterr().out
    assert "MockOFDServer" in out and "stopped" in out and not registry["ofd"].running


def test_table_shows_token_for_non_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(MockRegistry({"ofd": MockOFDServer(host="0.0.0.0", admin_token="tok")}))
    assert "token: tok" in capsys.readouterr().out


def test_serve_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with MockOFDServer() as blocker:
        assert main(["serve", "ofd", "--port", str(blocker.port)]) == 1
    assert "already in use" in capsys.readouterr().err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", [["serve", "ofd", "--port", "0", "--fail-count", "1"], ["up", "--only", "ofd"]])
def test_cli_process_serves_and_exits_cleanly_on_sigterm(argv: list[str]) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mocktools", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        if "in use" in "".join(lines) or proc.poll() is not None:
            pytest.skip("well-known port taken on this machine")
        url = lines[1].split()[-1]
        if argv[0] == "serve":
            assert requests.post(f"{url}/ofd/v1/receipt", json={}, timeout=5).status_code == 503
        assert requests.post(f"{url}/ofd/v1/receipt", json={}, timeout=5).ok
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_grpc_mocks_get_an_admin_port_from_the_cli() -> None:
    from mocktools.cli import _transport_kwargs
    from mocktools.e6data import MockE6DataServer

    assert _transport_kwargs(MockE6DataServer, 50051) == {"admin_port": 50052}
    assert _transport_kwargs(MockE6DataServer, 0) == {"admin_port": 0}
    assert _transport_kwargs(MockE6DataServer, 50051, 7000) == {"admin_port": 7000}
    assert _transport_kwargs(MockOFDServer, 9000) == {}
