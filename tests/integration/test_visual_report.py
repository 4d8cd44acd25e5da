"""The HTML report: what it shows for each mock, how bodies are cut, and the pytest option that
writes one for each failing test."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from mocktools.mesh import MockServiceMesh
from mocktools.mesh.topology import layered_spec
from mocktools.mock_group import MockRegistry
from mocktools.ofd.mock import MockOFDServer
from mocktools.otlp import MockOTLPCollector
from mocktools.visual.pytest_report import report_name
from mocktools.visual.report_data import BODY_LINES, pretty_body
from mocktools.visual.report_html import report_html

pytest_plugins = ["pytester"]


def test_bodies_are_pretty_printed_and_cut_sensibly() -> None:
    text, note = pretty_body(b'{"a":1,"b":[1,2]}', {"a": 1, "b": [1, 2]})
    assert text == '{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}' and note == ""
    big = {"items": [{"n": i} for i in range(500)]}
    raw = json.dumps(big).encode()
    text, note = pretty_body(raw, big)
    assert len(text.splitlines()) == BODY_LINES and note.endswith(f"(body is {len(raw)} bytes)")
    text, note = pretty_body(b"x" * 10_000)
    assert len(text) == 4000 and "cut at 4000 characters" in note
    text, note = pretty_body(bytes(range(256)) * 4, content_type="application/x-protobuf")
    assert text.startswith("0000  00 01 02") and "binary application/x-protobuf, 1024 bytes" in note
    assert pretty_body(b"") == ("", "")


def test_report_shows_journals_faults_mesh_and_traces(tmp_path: Path) -> None:
    registry = MockRegistry()
    ofd = MockOFDServer()
    collector = MockOTLPCollector(grpc_port=None)
    mesh = MockServiceMesh(layered_spec(10, instances=1), breakers={"default": {"minimum_calls": 2, "window_size": 2}})
    for name, mock in (("ofd", ofd), ("otlp", collector), ("mesh", mesh)):
        registry.add(name, mock)
    with registry:
        ofd.set_failure_count(2, status=503)
        for i in range(3):
            requests.post(f"{ofd.url}/ofd/v1/receipt", json={"id": f"doc-{i}", "total": 100 + i}, timeout=5)
        mesh.instances["leaf-0"][0].set_permanent_failure(status=500)
        mesh.chaos.latency(service="api-1", seconds=0.001, duration=60)
        for _ in range(3):
            mesh.request("gateway", "/checkout")
        mesh.export_otlp(collector.endpoint("traces"))
        path = registry.report(tmp_path / "deep" / "run.html", title="a <run>", failure="AssertionError: boom")
    doc = path.read_text()
    assert doc.startswith("<!DOCTYPE html>") and "<title>a &lt;run&gt;</title>" in doc
    assert "AssertionError: boom" in doc
    assert "status:503 × 2" in doc and "&quot;id&quot;: &quot;doc-2&quot;" in doc  # pretty body, escaped
    assert doc.count("<section class='mock'") == 3
    assert "Dependency graph" in doc and "Circuit breakers" in doc and "Chaos scenarios (1)" in doc
    assert "Failed downstream calls" in doc and "Telemetry received" in doc
    assert "faults, breakers and chaos" in doc and "mesh breaker mid-0-&gt;leaf-0" in doc
    assert "mesh chaos chaos-1 latency api-1 (active)" in doc and "ofd: faults (2)" in doc
    assert doc.count("<svg") >= 5  # timeline, graph, mesh waterfalls, collector waterfalls
    assert "<script" not in doc
    assert "The mesh is stopped" in report_html([("mesh", mesh)])  # after the registry stopped it


def test_report_of_idle_mocks_says_so() -> None:
    ofd = MockOFDServer()
    doc = report_html([("ofd", ofd)])
    assert "No calls received." in doc and "No faults were applied" in doc and "stopped" in doc


FAILING = '''
import requests
from mocktools.otlp import MockOTLPCollector

def test_checkout(mock_ofd):
    with MockOTLPCollector(grpc_port=None) as collector:
        mock_ofd.set_failure_count(1)
        requests.post(mock_ofd.url + "/ofd/v1/receipt", json={"id": "r-1", "sum": 10}, timeout=5)
        assert mock_ofd.get_call_count() == 2, "the client should have retried"

def test_passes(mock_ofd):
    assert mock_ofd.get_call_count() == 0
'''


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_shop=FAILING)
    return pytester.runpytest("-p", "no:mocktools", "-p", "no:mocktools_report", "-p", "mocktools.pytest_plugin",
                              "-p", "mocktools.visual.pytest_report", "-p", "no:cacheprovider", *args)


TIMELINE = '''
import requests
from mocktools.clock import FakeClock
from mocktools.ofd.mock import MockOFDServer

def test_scheduled(mock_registry):
    ofd = mock_registry.add("ofd", MockOFDServer)
    mock_registry.start()
    mock_registry.timeline().at(1.0, "ofd", "set_failure_count", 1)
    mock_registry.timeline().run_until(1.5)
    assert requests.post(ofd.url + "/ofd/v1/receipt", json={"id": "a"}, timeout=5).status_code == 200
'''


def test_pytest_report_includes_the_registry_timeline(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makeconftest(
        "import pytest\nfrom mocktools.clock import FakeClock\nfrom mocktools.mock_group import MockRegistry\n"
        "@pytest.fixture\ndef mock_registry():\n    r = MockRegistry(clock=FakeClock())\n    yield r\n    r.stop()\n")
    pytester.makepyfile(test_tl=TIMELINE)
    out = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:mocktools", "-p", "no:mocktools_report", "-p", "mocktools.pytest_plugin",
                                "-p", "mocktools.visual.pytest_report", "-p", "no:cacheprovider",
                                f"--mocktools-report={out}")
    result.assert_outcomes(failed=1)
    doc = next(out.iterdir()).read_text()
    assert "ofd.set_failure_count(1)" in doc and "scheduled controls (1)" in doc and "status:503" in doc


def test_pytest_option_writes_one_report_per_failing_test(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = _run(pytester, f"--mocktools-report={out}")
    result.assert_outcomes(passed=1, failed=1)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [report_name("test_shop.py::test_checkout")]
    doc = files[0].read_text()
    assert "test_shop.py::test_checkout failed (call)" in doc and "the client should have retried" in doc
    assert "id='mock-mock_ofd'" in doc and "id='mock-collector'" in doc  # fixture and local variable
    assert "status:503" in doc and "&quot;r-1&quot;" in doc
    result.stdout.fnmatch_lines(["*mocktools reports*", f"*{files[0].name}"])


TEARDOWN = '''
import requests

def test_unanswered(mock_http):
    mock_http.expect_request("/ok").respond_with_json({"ok": True})
    requests.get(mock_http.url + "/ok", timeout=5)
    requests.get(mock_http.url + "/typo", timeout=5)  # nothing answers: the fixture's check() fails

def test_clean(mock_http):
    mock_http.expect_request("/ok").respond_with_json({"ok": True})
    requests.get(mock_http.url + "/ok", timeout=5)
'''


def test_a_teardown_failure_gets_the_report_taken_before_reset(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_stubs=TEARDOWN)
    out = tmp_path / "reports"
    result = pytester.runpytest("-p", "no:mocktools", "-p", "no:mocktools_report", "-p", "mocktools.pytest_plugin",
                                "-p", "mocktools.visual.pytest_report", "-p", "no:cacheprovider",
                                f"--mocktools-report={out}")
    result.assert_outcomes(passed=2, errors=1)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [report_name("test_stubs.py::test_unanswered")]
    doc = files[0].read_text()
    assert "failed (teardown)" in doc and "Test failure" in doc and "ExpectationError" in doc
    assert "Nothing answered these" in doc and "GET /typo" in doc and "/ok" in doc


def test_without_the_option_nothing_is_written(pytester: pytest.Pytester) -> None:
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    assert not list(pytester.path.rglob("*.html"))
    assert "mocktools reports" not in result.stdout.str()


def test_mesh_instances_held_by_a_test_are_reported_in_their_mesh() -> None:
    from types import SimpleNamespace

    from mocktools.visual.pytest_report import find_mocks

    with MockServiceMesh(layered_spec(8, instances=1)) as mesh:
        db = mesh.instances["db"][0]
        item = SimpleNamespace(funcargs={"mesh": mesh, "pair": [db, MockRegistry({"ofd": MockOFDServer()})]})
        found = find_mocks(item, None)  # type: ignore[arg-type]
    assert [name for name, _ in found] == ["mesh", "ofd"]


def test_report_names_are_safe_and_unique() -> None:
    a = report_name("tests/x.py::test_a[param/with spaces]")
    assert a.endswith(".html") and "/" not in a and " " not in a
    assert a != report_name("tests/x.py::test_a[param/with_spaces]")


def test_package_exports_load_on_use() -> None:
    from mocktools import visual

    assert visual.write_report.__name__ == "write_report" and visual.render_graph.__name__ == "render_graph"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = visual.nope  # type: ignore[attr-defined]


def test_otlp_grpc_exports_are_shown_decoded() -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    from mocktools.otlp import samples
    from mocktools.visual.report_data import decoded_body

    with MockOTLPCollector() as collector:
        assert collector.grpc is not None
        with grpc.insecure_channel(collector.grpc.target) as channel:
            trace_service_pb2_grpc.TraceServiceStub(channel).Export(samples.batch_of_spans(3), timeout=5)
        doc = decoded_body(collector.calls[-1])
        page = report_html([("otlp", collector)])
    assert doc is not None and doc["resourceSpans"][0]["scopeSpans"][0]["spans"][2]["name"] == "db.query 1"
    assert "shown as OTLP/JSON" in page and "bench-service" in page


def test_report_plugin_is_its_own_pytest11_entry_point() -> None:
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    plugins = project["entry-points"]["pytest11"]
    assert plugins["mocktools_report"] == "mocktools.visual.pytest_report"
    assert plugins["mocktools"] == "mocktools.pytest_plugin"
    assert {"grandalf", "networkx"} <= {d.split(">")[0].split("=")[0] for d in project["dependencies"]}
    assert "-p no:mocktools_report" in (root / "setup.cfg").read_text()  # loaded by conftest, under coverage


def test_mocks_on_a_fake_clock_get_their_own_timeline() -> None:
    from mocktools.clock import FakeClock

    slow, fast = MockOFDServer(clock=FakeClock(1_000.0)), MockOFDServer()
    with MockRegistry({"slow": slow, "fast": fast}):
        for mock in (slow, fast):
            mock.set_failure_count(1)
            requests.post(f"{mock.url}/ofd/v1/receipt", json={"id": "x"}, timeout=5)
        doc = report_html([("slow", slow), ("fast", fast)])
    assert doc.count("<h2>Timeline") == 2 and "(on the fake clock of slow)" in doc


def test_a_registry_timeline_is_drawn_with_its_controls(tmp_path: Path) -> None:
    from mocktools.clock import FakeClock

    registry = MockRegistry(clock=FakeClock(), seed=3)
    ofd = registry.add("ofd", MockOFDServer)
    with registry:
        timeline = registry.timeline()
        timeline.at(1.0, "ofd", "set_failure_count", 1, status=503)
        timeline.at(5.0, "ofd", "set_success")
        timeline.run_until(2.0)
        requests.post(f"{ofd.url}/ofd/v1/receipt", json={"id": "late"}, timeout=5)
        doc = registry.report(tmp_path / "timeline.html").read_text()
    assert "scheduled controls (1)" in doc and "control-mark" in doc
    assert "Scheduled controls (registry timeline, now +2s)" in doc
    assert "ofd.set_failure_count(1, status=503)" in doc and "pending" in doc and "fired" in doc
    assert "ofd: faults (1)" in doc
