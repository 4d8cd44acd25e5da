"""One extension point: a mock declares name, port and protocol once; the catalog, `__all__`,
the CLI, MockRegistry and the pytest fixtures follow, for built-ins and entry-point mocks alike."""
from __future__ import annotations

import ast
import inspect
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mocktools
from mocktools.catalog import BUILTIN_MOCKS, CATALOG, class_name_of, load_class

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("host", "port", "clock", "seed", "journal_limit", "admin_token", "verbose")


def test_catalog_is_derived_from_the_class_attributes() -> None:
    assert CATALOG.errors == {}
    for target in BUILTIN_MOCKS:
        cls = load_class(target)
        entry = CATALOG[cls.name]
        assert (entry.class_name, entry.port, entry.protocol) == (cls.__name__, cls.default_port, cls.protocol)
        assert cls.protocol and cls.default_port and entry.load() is cls


def test_all_and_the_typing_imports_follow_the_one_list() -> None:
    names = {class_name_of(t) for t in BUILTIN_MOCKS}
    assert names <= set(mocktools.__all__)
    tree = ast.parse((ROOT / "mocktools" / "__init__.py").read_text())
    typed = {alias.name for node in ast.walk(tree) if isinstance(node, ast.If)
             for stmt in node.body if isinstance(stmt, ast.ImportFrom) for alias in stmt.names}
    assert names <= typed, f"add {names - typed} under TYPE_CHECKING in mocktools/__init__.py"
    for name in names:
        assert getattr(mocktools, name) is load_class(next(t for t in BUILTIN_MOCKS if t.endswith(":" + name)))


def test_every_catalog_entry_has_a_docs_page_and_a_readme_row() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, entry in CATALOG.items():
        assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing"
        rows = [line for line in readme.splitlines() if line.startswith(f"| `{entry.class_name}` |")]
        assert rows and f"docs/{name}.md" in rows[0] and str(entry.port) in rows[0], f"README row of {name}"


@pytest.mark.parametrize("target", BUILTIN_MOCKS)
def test_shared_keywords_are_explicit_in_every_signature(target: str) -> None:
    cls = load_class(target)
    params = inspect.signature(cls).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), f"{cls.__name__} has **kwargs"
    wanted = SHARED + (("max_body_bytes",) if issubclass(cls, mocktools.HTTPMockServer) else ())
    assert set(wanted) <= set(params), f"{cls.__name__} lacks {set(wanted) - set(params)}"


@pytest.mark.parametrize("target", BUILTIN_MOCKS)
def test_every_mock_validates_its_port(target: str) -> None:
    with pytest.raises(ValueError, match="port"):
        load_class(target)(port=70000)


PLUGIN_MOCK = '''
from mocktools import HTTPMockServer


class MockPingServer(HTTPMockServer):
    """A mock from outside mocktools, added through the `mocktools.mocks` entry point."""

    name = "ping"
    default_port = 7777
    protocol = "HTTP ping"

    def register_routes(self, router):
        router.add("/ping", lambda request: {"pong": True})
'''

USES_IT = '''
import requests
from mocktools import MockRegistry
from mocktools.catalog import CATALOG, get_mock_class

assert CATALOG["ping"].source == "pingmock" and CATALOG["ping"].port == 7777
with MockRegistry() as registry:
    mock = registry.add("ping", get_mock_class("ping"))
    registry.start()
    assert requests.get(mock.url + "/ping", timeout=5).json() == {"pong": True}
print("ok")
'''

FIXTURE_TEST = '''
import requests


def test_ping(mock_ping):
    assert requests.get(mock_ping.url + "/ping", timeout=5).json() == {"pong": True}
    assert mock_ping.get_call_count("/ping") == 1
'''


def _outside_package(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    dist = site / "pingmock-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pingmock\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mocktools.mocks]\nping = pingmock:MockPingServer\n")
    (site / "pingmock.py").write_text(PLUGIN_MOCK)
    (tmp_path / "test_ping.py").write_text(FIXTURE_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(check=False, args=[sys.executable, *args], cwd=tmp_path, env=_outside_package(tmp_path),
                          capture_output=True, text=True, timeout=60)


def test_an_outside_mock_appears_in_the_cli_the_catalog_and_the_registry(tmp_path: Path) -> None:
    listed = _run(tmp_path, "-m", "mocktools", "list")
    assert listed.returncode == 0 and "ping" in listed.stdout and "7777" in listed.stdout, listed.stderr
    used = _run(tmp_path, "-c", USES_IT)
    assert used.returncode == 0 and used.stdout.strip() == "ok", used.stderr


def test_an_outside_mock_is_served_by_the_cli(tmp_path: Path) -> None:
    import requests

    proc = subprocess.Popen([sys.executable, "-m", "mocktools", "serve", "ping", "--port", "0"], cwd=tmp_path,
                            env={**_outside_package(tmp_path), "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        url = lines[1].split()[2]
        assert "MockPingServer" in lines[1] and requests.get(url + "/ping", timeout=5).json() == {"pong": True}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_an_outside_mock_gets_a_pytest_fixture(tmp_path: Path) -> None:
    tested = _run(tmp_path, "-m", "pytest", "-q", "test_ping.py")  # the plugin loads through pytest11
    assert tested.returncode == 0 and "1 passed" in tested.stdout, tested.stdout + tested.stderr


def _modules() -> list[str]:
    found = []
    for path in sorted((ROOT / "mocktools").rglob("*.py")):
        if "_generated" in path.parts or path.name == "__main__.py":
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


IMPORT_EACH = textwrap.dedent('''
    import importlib, sys
    failures = []
    for name in sys.argv[1:]:
        for mod in [m for m in sys.modules if m.startswith("mocktools") and "_generated" not in m]:
            del sys.modules[mod]
        try:
            importlib.import_module(name)
            import mocktools  # noqa: F401
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    print("\\n".join(failures))
''')


@pytest.mark.parametrize("chunk", range(8))
def test_every_module_imports_alone_and_mocktools_after_it(chunk: int) -> None:
    """No import circle: each module first (with no other mocktools module loaded), then `mocktools`."""
    modules = _modules()[chunk::8]
    result = subprocess.run(check=False, args=[sys.executable, "-c", IMPORT_EACH, *modules], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", result.stdout


@pytest.mark.parametrize("first", ["mocktools.http_mock", "mocktools.grpc_mock", "mocktools.listeners.http",
                                   "mocktools.lifecycle", "mocktools.teraslice.generate", "mocktools.catalog"])
def test_a_fresh_interpreter_imports_a_module_first(first: str) -> None:
    code = f"import {first}, mocktools; mocktools.MockOFDServer; mocktools.MockRedisServer"
    result = subprocess.run(check=False, args=[sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
