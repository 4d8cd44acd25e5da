"""MockRegistry: several mocks started in parallel, stopped together, reset together.

The async harness helpers of the OTLP/vLLM seed (`MockServerConfig`, `start_mock_servers_async`,
`stop_mock_servers`) sit on top of the same lifecycle.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator

from .errors import MockStartError
from .lifecycle import MockServerBase


class MockRegistry:
    """Mocks by name; `start()` starts all in parallel and stops the others if one fails."""

    def __init__(self, mocks: dict[str, MockServerBase] | None = None) -> None:
        self._mocks: dict[str, MockServerBase] = {}
        for name, mock in (mocks or {}).items():
            self.add(name, mock)

    def add(self, name: str, mock: MockServerBase | type[MockServerBase], **kwargs: Any) -> MockServerBase:
        """Add a mock instance, or a mock class to build with `kwargs`; returns the instance."""
        if name in self._mocks:
            raise ValueError(f"a mock named {name!r} is already registered")
        instance = mock(**kwargs) if isinstance(mock, type) else mock
        self._mocks[name] = instance
        return instance

    def __getitem__(self, name: str) -> MockServerBase:
        try:
            return self._mocks[name]
        except KeyError:
            raise KeyError(f"no mock named {name!r}; registered: {sorted(self._mocks)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._mocks

    def __iter__(self) -> Iterator[str]:
        return iter(self._mocks)

    def __len__(self) -> int:
        return len(self._mocks)

    def items(self) -> list[tuple[str, MockServerBase]]:
        return list(self._mocks.items())

    def urls(self) -> dict[str, str]:
        return {name: mock.url for name, mock in self._mocks.items()}

    def start(self) -> "MockRegistry":
        """Start every mock in parallel; on any failure stop them all and name the failed ones."""
        if not self._mocks:
            return self
        with ThreadPoolExecutor(max_workers=min(32, len(self._mocks))) as pool:
            futures = {name: pool.submit(mock.start) for name, mock in self._mocks.items()}
        failed = {name: f.exception() for name, f in futures.items() if f.exception() is not None}
        if failed:
            self.stop()
            detail = "; ".join(f"{name}: {exc}" for name, exc in failed.items())
            first = next(iter(failed.values()))
            raise MockStartError(f"could not start mock(s) {sorted(failed)}: {detail}") from first
        return self

    def stop(self) -> None:
        """Stop every mock (in parallel); safe to call more than once."""
        running = [mock for mock in self._mocks.values() if mock.running]
        if not running:
            return
        with ThreadPoolExecutor(max_workers=min(32, len(running))) as pool:
            list(pool.map(lambda m: m.stop(), running))

    def reset(self) -> None:
        for mock in self._mocks.values():
            mock.reset()

    def check(self) -> None:
        for mock in self._mocks.values():
            mock.check()

    def report(self, path: Any, *, title: str = "mocktools report", failure: str | None = None) -> Any:
        """Write a self-contained HTML report of what every mock received, faults, traces, breakers."""
        from .visual.report_html import write_report

        return write_report(self.items(), path, title=title, failure=failure)

    def __enter__(self) -> "MockRegistry":
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop()
        if exc_type is None:
            self.check()


@dataclass
class MockServerConfig:
    """How the async harness builds one mock: a name, a class and its keyword arguments."""

    name: str
    server_class: type[MockServerBase]
    init_kwargs: dict[str, Any] = field(default_factory=dict)


async def start_mock_servers_async(configs: list[MockServerConfig]) -> dict[str, MockServerBase]:
    """Build and start every configured mock in parallel; all or none are left running."""
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate mock names in {names}")
    servers = {c.name: c.server_class(**c.init_kwargs) for c in configs}
    results = await asyncio.gather(*(s.await_start() for s in servers.values()), return_exceptions=True)
    failed = {name: r for name, r in zip(servers, results) if isinstance(r, BaseException)}
    if failed:
        stop_mock_servers(servers)
        detail = "; ".join(f"{name}: {exc}" for name, exc in failed.items())
        raise MockStartError(f"could not start mock(s) {sorted(failed)}: {detail}") from next(iter(failed.values()))
    return servers


def stop_mock_servers(servers: dict[str, MockServerBase]) -> None:
    """Stop every mock the harness started."""
    MockRegistry(dict(servers)).stop()


__all__ = ["MockRegistry", "MockServerConfig", "start_mock_servers_async", "stop_mock_servers"]
