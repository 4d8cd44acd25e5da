"""MockRegistry: several mocks started in parallel, stopped together, reset together.

The async harness helpers of the OTLP/vLLM seed (`MockServerConfig`, `start_mock_servers_async`,
`stop_mock_servers`) sit on top of the same lifecycle.
"""
from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .errors import MockStartError
from .lifecycle import MockServerBase
from .timeline import Timeline


def derive_seed(seed: int, name: str) -> int:
    """One mock's seed from the registry's: stable across runs and processes."""
    return zlib.crc32(f"{seed}:{name}".encode()) & 0x7FFFFFFF


class MockRegistry:
    """Mocks by name; `start()` starts all in parallel and stops the others if one fails.

    With `clock=` every mock in it shares that clock (a FakeClock moves them all at once), and
    with `seed=` each mock added as a class gets a seed derived from it and its name, so one
    number reproduces the whole run, timeline included (`timeline()`).
    """

    def __init__(self, mocks: dict[str, MockServerBase] | None = None, *, clock: Clock | None = None,
                 seed: int | None = None) -> None:
        self._mocks: dict[str, MockServerBase] = {}
        self.clock = clock
        self.seed = seed
        self._timeline: Timeline | None = None
        for name, mock in (mocks or {}).items():
            self.add(name, mock)

    def add(self, name: str, mock: MockServerBase | type[MockServerBase], **kwargs: Any) -> MockServerBase:
        """Add a mock instance, or a mock class to build with `kwargs`; returns the instance.

        A class is built with the registry's clock and a derived seed unless `kwargs` say
        otherwise; an instance must already use the registry's clock."""
        if name in self._mocks:
            raise ValueError(f"a mock named {name!r} is already registered")
        if isinstance(mock, type):
            if self.clock is not None:
                kwargs.setdefault("clock", self.clock)
            if self.seed is not None:
                kwargs.setdefault("seed", derive_seed(self.seed, name))
            instance = mock(**kwargs)
        else:
            instance = mock
            if self.clock is not None and instance.clock is not self.clock:
                raise ValueError(f"mock {name!r} has its own clock; build it with clock=registry.clock, "
                                 f"or add its class (registry.add({name!r}, {type(mock).__name__}))")
        self._mocks[name] = instance
        return instance

    def timeline(self, seed: int | None = None) -> Timeline:
        """The registry's timeline on its clock (created on first use; seeded by the registry)."""
        if self._timeline is None:
            if self.clock is None:
                raise ValueError("a timeline needs the registry's clock: MockRegistry(clock=FakeClock())")
            self._timeline = Timeline(self.clock, self._mocks, self.seed if seed is None else seed)
        return self._timeline

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

    def start(self) -> MockRegistry:
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

        return write_report(self.items(), path, title=title, failure=failure, timeline=self._timeline)

    def __enter__(self) -> MockRegistry:
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


__all__ = ["MockRegistry", "MockServerConfig", "derive_seed", "start_mock_servers_async", "stop_mock_servers"]
