"""The mocks mocktools knows, by name: the one list of built-ins plus the `mocktools.mocks` entry points.

A mock class declares its catalog name, well-known port and protocol once, as class attributes
(`name`, `default_port`, `protocol`); everything else (this catalog, `mocktools.__all__`, the
CLI's `list/serve/up`, the pytest `mock_<name>` fixtures) is derived from `BUILTIN_MOCKS` and
from the entry points another package declares::

    [project.entry-points."mocktools.mocks"]
    kafka = "my_package.kafka_mock:MockKafkaServer"

`mocktools.MockOFDServer` imports one module; the catalog itself imports every mock class
the first time it is read (the names live on the classes), about 0.4 s for the built-ins.
"""
from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lifecycle import MockServerBase

ENTRY_POINT_GROUP = "mocktools.mocks"

#: every mock mocktools ships, as "module:Class" (the class says its name, port and protocol)
BUILTIN_MOCKS: tuple[str, ...] = (
    "mocktools.ofd.mock:MockOFDServer",
    "mocktools.otlp.mock:MockOTLPCollector",
    "mocktools.vllm.mock:MockVLLMServer",
    "mocktools.teraslice.mock:MockTerasliceServer",
    "mocktools.e6data.mock:MockE6DataServer",
    "mocktools.mesh.mock:MockServiceMesh",
    "mocktools.redis.mock:MockRedisServer",
    "mocktools.doubles.app_server:MockHTTPServer",
)


def class_name_of(target: str) -> str:
    return target.rpartition(":")[2]


def load_class(target: str) -> type[MockServerBase]:
    module, _, attr = target.partition(":")
    cls: type[MockServerBase] = getattr(importlib.import_module(module), attr)
    return cls


@dataclass(frozen=True)
class CatalogEntry:
    """One mock as the CLI and the plugin see it; `name`, `port`, `protocol` come from the class."""

    name: str
    module: str
    class_name: str
    port: int
    protocol: str
    source: str = "mocktools"  # or the distribution that declared the entry point

    def load(self) -> type[MockServerBase]:
        cls: type[MockServerBase] = getattr(importlib.import_module(self.module), self.class_name)
        return cls

    @classmethod
    def of(cls, mock_class: type[MockServerBase], source: str = "mocktools") -> CatalogEntry:
        return cls(mock_class.name, mock_class.__module__, mock_class.__name__, mock_class.default_port,
                   mock_class.protocol, source)


def _entry_point_targets() -> list[tuple[str, str, str]]:
    """(entry point name, "module:Class", distribution) of every `mocktools.mocks` entry point."""
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        found.append((ep.name, ep.value, dist))
    return found


class _Catalog(Mapping[str, CatalogEntry]):
    """Built on first use: importing the classes is how their names are known."""

    def __init__(self) -> None:
        self._entries: dict[str, CatalogEntry] | None = None
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}

    def _build(self) -> dict[str, CatalogEntry]:
        entries = self._entries
        if entries is not None:
            return entries
        with self._lock:
            if self._entries is not None:
                return self._entries
            built: dict[str, CatalogEntry] = {}
            for target in BUILTIN_MOCKS:
                try:
                    entry = CatalogEntry.of(load_class(target))
                except ImportError as exc:  # a mock whose optional dependency is missing
                    self.errors[target] = f"{type(exc).__name__}: {exc}"
                    continue
                built[entry.name] = entry
            for ep_name, target, dist in _entry_point_targets():
                try:
                    mock_class = load_class(target)
                    entry = CatalogEntry.of(mock_class, dist)
                except Exception as exc:  # noqa: BLE001 - an outside package must not break mocktools
                    self.errors[target] = f"{type(exc).__name__}: {exc}"
                    warnings.warn(f"mocktools: entry point {ep_name} = {target} ({dist}) failed to load: {exc}",
                                  RuntimeWarning, stacklevel=2)
                    continue
                if entry.name in built:
                    self.errors[target] = f"name {entry.name!r} is already taken by {built[entry.name].class_name}"
                    warnings.warn(f"mocktools: entry point {target} ({dist}) reuses the name {entry.name!r}; "
                                  "ignored", RuntimeWarning, stacklevel=2)
                    continue
                built[entry.name] = entry
            self._entries = built
            return built

    def __getitem__(self, name: str) -> CatalogEntry:
        return self._build()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def refresh(self) -> None:
        """Forget what was found (after installing a package that adds a mock)."""
        with self._lock:
            self._entries = None
            self.errors = {}


CATALOG = _Catalog()


def get_mock_class(name: str) -> type[MockServerBase]:
    try:
        entry = CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown mock {name!r}; known: {', '.join(CATALOG)}") from None
    return entry.load()


def available() -> dict[str, CatalogEntry]:
    """The catalog entries whose module imports (every entry does: the catalog loaded each)."""
    return dict(CATALOG)


__all__ = [
    "BUILTIN_MOCKS",
    "CATALOG",
    "ENTRY_POINT_GROUP",
    "CatalogEntry",
    "available",
    "class_name_of",
    "get_mock_class",
    "load_class",
]
