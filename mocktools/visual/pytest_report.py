"""pytest plugin: ``--mocktools-report DIR`` writes an HTML report for each failing test.

A test that fails in teardown (a mock fixture's ``check()`` finding a handler error, an
unanswered request or an unused one-shot stub) gets its report too: it is rendered at the end of
the call, while the mocks still hold what they saw, and written only if teardown fails.

The report covers every mock the test could reach: its fixtures (``mock_<name>``,
``mock_registry``, or any fixture returning a mock, a registry, or a dict/list of them) and the
mocks held in local variables of the failing frames (``with MockOTLPCollector() as c:``). It is
written while the test's fixtures are still alive, before they reset the mocks. Registered as
its own ``pytest11`` entry point (``mocktools_report``) beside the fixtures plugin.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import pytest

__all__ = ["find_mocks", "find_timeline", "report_name"]

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mocktools")
    group.addoption("--mocktools-report", metavar="DIR", default=None,
                    help="write a self-contained HTML report of what every mock saw, one per failing test, into DIR")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("mocktools_report", None):
        config.pluginmanager.register(_Written(), "mocktools-report-paths")


def report_name(nodeid: str) -> str:
    """A file name for a test id: readable, safe on every file system, unique by a short hash."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:120]
    return f"{safe}-{hashlib.sha1(nodeid.encode()).hexdigest()[:8]}.html"


def _expand(name: str, value: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    from ..lifecycle import MockServerBase
    from ..mock_group import MockRegistry

    if isinstance(value, MockServerBase):
        yield name, value
    elif isinstance(value, MockRegistry):
        for key, mock in value.items():
            yield key, mock
    elif depth == 0 and isinstance(value, dict):
        for key, item in list(value.items())[:100]:
            yield from _expand(str(key), item, 1)
    elif depth == 0 and isinstance(value, (list, tuple)):
        for i, item in enumerate(value[:100]):
            yield from _expand(f"{name}[{i}]", item, 1)


def _sources(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException] | None) -> Iterator[tuple[str, Any]]:
    """The test's fixture values, then the locals of every frame the failure passed through."""
    yield from list(getattr(item, "funcargs", {}).items())
    tb: TracebackType | None = excinfo.tb if excinfo is not None else None
    while tb is not None:
        yield from ((k, v) for k, v in list(tb.tb_frame.f_locals.items()) if not k.startswith("@"))
        tb = tb.tb_next


def find_timeline(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException] | None) -> Any:
    """The timeline of the first registry the test holds that has one (its controls go in the report)."""
    from ..mock_group import MockRegistry

    for _, value in _sources(item, excinfo):
        if isinstance(value, MockRegistry) and getattr(value, "_timeline", None) is not None:
            return value._timeline
    return None


def find_mocks(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException] | None) -> list[tuple[str, Any]]:
    """(name, mock) for every mock in the test's fixtures and in the failing frames' locals."""
    found: dict[int, tuple[str, Any]] = {}
    for name, value in _sources(item, excinfo):
        for key, mock in _expand(name, value):
            found.setdefault(id(mock), (key, mock))
    in_a_mesh = {id(inst) for _, mock in found.values() if isinstance(getattr(mock, "instances", None), dict)
                 for group in list(mock.instances.values()) if isinstance(group, list) for inst in group}
    names: set[str] = set()
    out = []
    for key, mock in found.values():
        if id(mock) in in_a_mesh:
            continue  # a mesh instance: already in its mesh's section
        unique, n = key, 2
        while unique in names:
            unique, n = f"{key}-{n}", n + 1
        names.add(unique)
        out.append((unique, mock))
    return out


_PENDING = pytest.StashKey[str]()


def _pending_problem(mock: Any) -> bool:
    """Will the fixture's teardown ``check()`` fail? (handler errors, unanswered or unmet stubs)"""
    unmet = getattr(mock, "unmet_expectations", None)
    return bool(getattr(mock, "errors", None) or getattr(mock, "unanswered", None) or (callable(unmet) and unmet()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    folder = item.config.getoption("mocktools_report", None)
    if not folder:
        return report
    path = item.config.invocation_params.dir / folder / report_name(item.nodeid)
    title = f"{item.nodeid} failed ({report.when})"
    try:
        if report.failed and report.when in ("setup", "call"):
            mocks = find_mocks(item, call.excinfo)
            if mocks:
                from .report_html import write_report

                _written_to(report, write_report(mocks, path, title=title, failure=str(report.longrepr),
                                                 timeline=find_timeline(item, call.excinfo)))
        elif report.passed and report.when == "call":
            # The fixtures' teardown check() may still fail the test, after resetting the mocks: keep
            # a report now, while they still hold what they saw; it is written only if teardown fails.
            mocks = find_mocks(item, None)
            if any(_pending_problem(m) for _, m in mocks):
                from .report_html import report_html

                item.stash[_PENDING] = report_html(mocks, title=f"{item.nodeid} failed (teardown)",
                                                   timeline=find_timeline(item, None))
        elif report.failed and report.when == "teardown" and _PENDING in item.stash:
            from .report_html import failure_box

            html = item.stash[_PENDING].replace("<main>", "<main>" + failure_box(str(report.longrepr)), 1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(html, encoding="utf-8")
            _written_to(report, path)
    except Exception as exc:  # noqa: BLE001 - a report must never hide the test's own failure
        report.sections.append(("mocktools report", f"could not write the report: {exc!r}"))
    return report


def _written_to(report: pytest.TestReport, path: Any) -> None:
    report.user_properties.append(("mocktools_report", str(path)))
    report.sections.append(("mocktools report", f"written to {path}"))


class _Written:
    """Collects the report paths (on the xdist controller too, from the workers' reports)."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.paths += [str(v) for k, v in report.user_properties if k == "mocktools_report"]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.paths:
            terminalreporter.section("mocktools reports")
            for path in dict.fromkeys(self.paths):
                terminalreporter.write_line(path)
