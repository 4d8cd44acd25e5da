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
@pytest.mark.parametrize("argv", [["serve", "ofd", "--port", "0", "--fail-count", "1", "--log-level", "info"],
                                  ["up", "--only", "ofd"]])
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
        if "--log-level" in argv:
            assert "mocktools.ofd: ofd started on" in err and "mocktools.ofd: ofd stopped" in err
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


@pytest.mark.parametrize("argv, message", [
    (["serve", "ofd", "--port", "99999"], "argument --port: a port must be 0..65535, got 99999"),
    (["serve", "ofd", "--port", "x"], "a port must be an integer 0..65535, got 'x'"),
    (["serve", "e6data", "--admin-port", "-2"], "argument --admin-port: a port must be 0..65535, got -2"),
    (["serve", "otlp", "--grpc-port", "70000"], "argument --grpc-port: a port must be 0..65535"),
    (["serve", "ofd", "--fail-count", "-1"], "argument --fail-count: must be >= 0, got -1"),
    (["serve", "ofd", "--fail-status", "99"], "must be an HTTP status code 100..599, got 99"),
    (["serve", "ofd", "--latency", "soon"], "argument --latency: must be a number of seconds >= 0, got 'soon'"),
    (["serve", "ofd", "--rate-window", "0"], "argument --rate-window: must be a number of seconds > 0"),
    (["serve", "ofd", "--log-level", "loud"], "argument --log-level: invalid choice"),
    (["serve", "nope"], "argument name: invalid choice: 'nope'"),
    (["up", "--only", "ofd,nope"], "unknown mock(s) nope; known: ofd"),
    (["serve", "mesh", "--spec", "missing.yaml"], "no such file: missing.yaml"),
    (["serve", "mesh", "--spec", "{tmp}/bad.yaml"], "unknown key 'circuit_breaker' (did you mean 'breakers'?)"),
    (["serve", "mesh", "--spec", "{tmp}/broken.yaml"], "malformed YAML"),
    (["serve", "mesh", "--spec", "{tmp}"], "cannot read"),
    (["frobnicate"], "argument command: invalid choice: 'frobnicate'"),
])
def test_bad_command_lines_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("services:\n  a: {}\ncircuit_breaker: {}\n")
    (tmp_path / "broken.yaml").write_text("services: [\n")
    with pytest.raises(SystemExit) as info:
        main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import mocktools

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"mocktools {mocktools.__version__}"


def test_fault_flags_are_applied_and_shared_by_serve_and_every_script() -> None:
    import argparse
    from pathlib import Path

    from mocktools.cli import _serve_parser, add_fault_arguments, apply_fault_arguments

    reference = argparse.ArgumentParser()
    add_fault_arguments(reference)
    fault_flags = {o for a in reference._actions for o in a.option_strings} - {"-h", "--help"}
    serve = _serve_parser("ofd", MockOFDServer)
    assert fault_flags <= {o for a in serve._actions for o in a.option_strings}
    scripts = sorted((Path(__file__).resolve().parents[2] / "scripts").glob("run_*.py"))
    assert len(scripts) >= 6
    for script in scripts:
        text = script.read_text()
        assert "add_fault_arguments(parser)" in text and "apply_fault_arguments(" in text, script.name
        assert '"--status"' not in text, script.name  # one name for the status flag: --fail-status
    args = serve.parse_args(["ofd", "--fail-count", "2", "--fail-status", "502", "--latency", "0.25",
                             "--rate-limit", "5", "--rate-window", "2", "--retry-after", "3"])
    ofd = MockOFDServer()
    apply_fault_arguments(ofd, args)
    described = ofd.faults.describe()
    text = str(described)
    assert "502" in text and "0.25" in text and "/ofd/v1/receipt" in text, described
