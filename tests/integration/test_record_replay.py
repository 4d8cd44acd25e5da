"""Record through the proxy, replay from cassettes; vcrpy cassettes both ways; streams keep timing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest
import requests
import vcr
import yaml

from mocktools import FakeClock, MockHTTPServer, MockOFDServer, MockVLLMServer
from mocktools.doubles import ExpectationError
from mocktools.record import REDACTED, Cassette, Interaction, record, replay

ROOT = Path(__file__).resolve().parents[2]


def chat(base_url: str, api_key: str = "sk-live-secret") -> str:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=10)
    stream = client.chat.completions.create(model="mock-llm", messages=[{"role": "user", "content": "hello"}],
                                            stream=True, max_tokens=6)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def test_record_a_vllm_stream_and_replay_it_to_openai_with_chunk_timing(tmp_path: Path) -> None:
    path = tmp_path / "vllm.yaml"
    vllm = MockVLLMServer(seed=3, ttft=0.02, itl=0.005, api_key="sk-live-secret").start()
    try:
        with record(vllm.url, path) as proxy:
            recorded_text = chat(proxy.url)
    finally:
        vllm.stop()
    data = yaml.safe_load(path.read_text())
    interaction = data["interactions"][0]
    assert interaction["request"]["headers"]["Authorization"] == [REDACTED]
    chunks = interaction["response"]["x_mocktools"]["chunks"]
    assert len(chunks) >= 4 and all(c["delay"] >= 0 for c in chunks)
    assert sum(c["delay"] for c in chunks) >= 0.02  # the last chunk cannot come before the TTFT has passed
    assert "".join(c["data"] for c in chunks) == interaction["response"]["body"]["string"]
    assert interaction["response"]["body"]["string"].rstrip().endswith("data: [DONE]")
    # the upstream is gone; the replay answers on a FakeClock, twice as fast as recorded
    clock = FakeClock()
    with replay(path, clock=clock, speed=2.0) as mock:
        start = clock.monotonic()
        assert chat(mock.url, api_key="anything") == recorded_text
        assert clock.monotonic() - start == pytest.approx(sum(c["delay"] for c in chunks) / 2.0)
        mock.check()


def test_ours_replay_under_vcrpy(tmp_path: Path) -> None:
    path = tmp_path / "ofd.yaml"
    with MockOFDServer() as ofd:
        upstream = ofd.url
        with record(upstream, path) as proxy:
            ack = requests.post(f"{proxy.url}/ofd/v1/receipt", json={"document_id": "R-1"}, timeout=5).json()
            health = requests.get(f"{proxy.url}/ofd/v1/health?verbose=1", timeout=5).json()
    assert not ofd.running  # vcrpy must not need the upstream any more
    with vcr.use_cassette(str(path), record_mode="none"):
        assert requests.post(f"{upstream}/ofd/v1/receipt", json={"document_id": "R-1"}, timeout=5).json() == ack
        assert requests.get(f"{upstream}/ofd/v1/health?verbose=1", timeout=5).json() == health


def test_vcrpy_cassettes_replay_here(tmp_path: Path) -> None:
    path = tmp_path / "by_vcrpy.yaml"
    with MockOFDServer() as ofd, vcr.use_cassette(str(path), record_mode="all"):
        first = requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "V-1"}, timeout=5).json()
        second = requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "V-2"}, timeout=5).json()
    with replay(path, match_on=("method", "path", "body")) as mock:
        assert requests.post(f"{mock.url}/ofd/v1/receipt", json={"document_id": "V-2"}, timeout=5).json() == second
        assert requests.post(f"{mock.url}/ofd/v1/receipt", json={"document_id": "V-1"}, timeout=5).json() == first
        missing = requests.post(f"{mock.url}/ofd/v1/receipt", json={"document_id": "V-3"}, timeout=5)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "no_recorded_match"
        assert "closest: recorded #" in missing.json()["error"]["message"]
        assert "POST /ofd/v1/receipt" in missing.json()["error"]["message"]
        with pytest.raises(ExpectationError, match="no recorded interaction matches"):
            mock.check()


def test_secrets_are_redacted_by_default_and_configurable(tmp_path: Path) -> None:
    with MockOFDServer() as ofd:
        with record(ofd.url, tmp_path / "a.yaml") as proxy:
            requests.get(f"{proxy.url}/ofd/v1/health?api_key=k1&page=2", timeout=5,
                         headers={"Authorization": "Bearer t", "Cookie": "s=1", "X-Api-Key": "k2", "X-Trace": "keep"})
        with record(ofd.url, tmp_path / "b.yaml", redact_headers=["x-trace"], redact_query=[]) as proxy:
            requests.get(f"{proxy.url}/ofd/v1/health?api_key=k1", timeout=5, headers={"X-Trace": "hide"})
    a = Cassette.load(tmp_path / "a.yaml").interactions[0]
    assert a.request_headers["Authorization"] == [REDACTED] and a.request_headers["Cookie"] == [REDACTED]
    assert a.request_headers["X-Api-Key"] == [REDACTED] and a.request_headers["X-Trace"] == ["keep"]
    assert "api_key=REDACTED" in a.uri and "page=2" in a.uri and "k1" not in (tmp_path / "a.yaml").read_text()
    b = Cassette.load(tmp_path / "b.yaml").interactions[0]
    assert b.request_headers["X-Trace"] == [REDACTED] and "api_key=k1" in b.uri
    with replay(tmp_path / "a.yaml") as mock:  # a redacted query value matches any value
        assert requests.get(f"{mock.url}/ofd/v1/health?api_key=other&page=2", timeout=5).status_code == 200


def test_new_episodes_replays_what_matches_and_records_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "episodes.yaml"
    with MockOFDServer() as ofd:
        with record(ofd.url, path) as proxy:
            requests.get(f"{proxy.url}/ofd/v1/health", timeout=5)
        ofd.reset()
        with MockHTTPServer(upstream=ofd.url, cassette=path, record_mode="new_episodes") as mock:
            requests.get(f"{mock.url}/ofd/v1/health", timeout=5)          # replayed
            requests.post(f"{mock.url}/ofd/v1/receipt", json={}, timeout=5)  # forwarded and recorded
            assert mock.status()["cassette"]["interactions"] == 2
        assert ofd.get_call_count(path=None) == 1
    assert [i.path for i in Cassette.load(path).interactions] == ["/ofd/v1/health", "/ofd/v1/receipt"]
    with pytest.raises(FileNotFoundError):
        replay(tmp_path / "missing.yaml")
    with pytest.raises(ValueError):
        MockHTTPServer(cassette=path, record_mode="all")


def test_unreachable_upstream_is_a_502(tmp_path: Path) -> None:
    with MockOFDServer() as ofd:
        dead = ofd.url
    with record(dead, tmp_path / "dead.yaml") as proxy:
        r = requests.get(f"{proxy.url}/x", timeout=10)
        assert r.status_code == 502 and r.json()["error"]["type"] == "bad_gateway"
    assert not (tmp_path / "dead.yaml").exists()


def test_mocktools_record_cli(tmp_path: Path) -> None:
    cassette = tmp_path / "cli.yaml"
    with MockOFDServer() as ofd:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "mocktools", "record", "--upstream", ofd.url,
                                 "--cassette", str(cassette), "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout is not None
            url = None
            for line in proc.stdout:
                if line.startswith("record "):
                    url = line.split()[-1]
                    break
            assert url is not None
            assert requests.get(f"{url}/ofd/v1/health", timeout=5).json()["status"] == "ok"
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=10)[0]
    assert proc.returncode == 0 and "1 interactions" in out
    assert Cassette.load(cassette).interactions[0].path == "/ofd/v1/health"


def test_cli_options_build_the_proxy_and_the_replay(tmp_path: Path) -> None:
    import argparse

    from mocktools.record.cli import build_proxy

    proxy = build_proxy(["--upstream", "http://127.0.0.1:9", "--cassette", str(tmp_path / "c.yaml"), "--port", "0",
                         "--redact-header", "X-Session", "--redact-query", "sid", "--match-on", "method,path"])
    assert proxy.recorder is not None and proxy.recorder.record_mode == "all"
    assert "x-session" in proxy.recorder.redactor.headers and "authorization" in proxy.recorder.redactor.headers
    assert "sid" in proxy.recorder.redactor.query and proxy.recorder.match_on == ("method", "path")
    bare = build_proxy(["--upstream", "http://127.0.0.1:9", "--cassette", "x.yaml", "--no-redact"])
    assert bare.recorder is not None and not bare.recorder.redactor.headers and bare.port == 8080
    parser = argparse.ArgumentParser()
    MockHTTPServer.cli_arguments(parser)
    args = parser.parse_args(["--cassette", str(tmp_path / "c.yaml"), "--upstream", "http://127.0.0.1:9",
                              "--record-mode", "new_episodes", "--speed", "4"])
    served = MockHTTPServer.from_cli(args, port=0)
    assert served.recorder is not None and served.recorder.speed == 4.0
    app_args = parser.parse_args(["--app", "tests.integration.test_doubles_app:make_payments_app"])
    assert callable(MockHTTPServer.from_cli(app_args).app)


def test_cassette_over_the_control_api(tmp_path: Path) -> None:
    with MockOFDServer() as ofd, record(ofd.url, tmp_path / "api.yaml") as proxy:
        requests.get(f"{proxy.url}/ofd/v1/health", timeout=5)
        info = requests.get(f"{proxy.url}/_mock/cassette", timeout=5).json()
        assert info["mode"] == "all" and info["interactions"] == ["GET /ofd/v1/health -> 200"]
        saved = requests.post(f"{proxy.url}/_mock/cassette/save", timeout=5).json()
        assert saved["interactions"] == 1 and Cassette.load(tmp_path / "api.yaml").interactions
    with replay(tmp_path / "api.yaml") as mock:
        assert requests.get(f"{mock.url}/_mock/cassette", timeout=5).json()["unused"] == ["GET /ofd/v1/health -> 200"]
    with MockHTTPServer() as bare:
        assert requests.get(f"{bare.url}/_mock/cassette", timeout=5).status_code == 404
        assert requests.post(f"{bare.url}/_mock/cassette/save", timeout=5).status_code == 404
    with MockHTTPServer(upstream=ofd.url) as memory:
        assert requests.post(f"{memory.url}/_mock/cassette/save", timeout=5).status_code == 409


def test_a_chunked_body_through_the_proxy_to_httpx_and_back(tmp_path: Path) -> None:
    import httpx
    from flask import Flask

    app = Flask("chunks")

    @app.get("/export")
    def export():
        return app.response_class((f"part-{i};" for i in range(3)), mimetype="application/x-ndjson")

    with MockHTTPServer(app=app) as upstream, record(upstream.url, tmp_path / "chunks.yaml") as proxy, \
            httpx.stream("GET", f"{proxy.url}/export", timeout=5) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert b"".join(response.iter_bytes()) == b"part-0;part-1;part-2;"
    [interaction] = Cassette.load(tmp_path / "chunks.yaml").interactions
    assert interaction.chunks is not None and [c for _, c in interaction.chunks] == [b"part-0;", b"part-1;", b"part-2;"]
    with replay(tmp_path / "chunks.yaml", speed=float("inf")) as mock:
        replayed = httpx.get(f"{mock.url}/export", timeout=5)
        assert replayed.text == "part-0;part-1;part-2;" and replayed.headers["content-type"] == "application/x-ndjson"


def test_json_cassettes_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    with MockOFDServer() as ofd:
        with vcr.VCR(serializer="json").use_cassette(str(path), record_mode="all"):
            ack = requests.post(f"{ofd.url}/ofd/v1/receipt", json={"document_id": "J-1"}, timeout=5).json()
        with replay(path) as mock:  # vcrpy's JSON cassette here
            assert requests.post(f"{mock.url}/ofd/v1/receipt", json={"document_id": "J-1"}, timeout=5).json() == ack
        ours = tmp_path / "ours.json"
        with record(ofd.url, ours) as proxy:
            health = requests.get(f"{proxy.url}/ofd/v1/health", timeout=5).json()
        upstream = ofd.url
    with vcr.VCR(serializer="json").use_cassette(str(ours), record_mode="none"):
        assert requests.get(f"{upstream}/ofd/v1/health", timeout=5).json() == health
    with pytest.raises(ValueError, match="binary"):
        Cassette(tmp_path / "b.json", [Interaction("GET", "http://h/", response_body=b"\xff")]).save()
