"""The mocks mocktools knows, by name: the one list of built-ins plus the `mocktools.mocks` entry points.

A mock class declares its catalog name, well-known port and protocol once, as class attributes
(`name`, `default_port`, `protocol`); everything else (this catalog, `mocktools.__all__`, the
CLI's `list/serve/up`, the pytest `mock_<name>` fixtures) is derived from `BUILTIN_MOCKS` and
from the entry points another package declares::

    [project.entry-points."mocktools.mocks"]
    kafka = "my_package.kafka_mock:MockKafkaServer"

Reading the catalog imports no mock: the three class attributes are read from the module's
source (they are literals by convention; a class that computes one is imported instead), so the
CLI and the pytest plugin stay fast; `entry.load()` imports the one mock used.
"""
from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
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


FACTS = ("name", "default_port", "protocol")


def declared_facts(target: str) -> tuple[str, int, str] | None:
    """`name`, `default_port`, `protocol` as the class body of `target` writes them, without
    importing it; None when the source is not at hand or one of them is not a literal there."""
    module, _, attr = target.partition(":")
    origin = _source_of(module)
    if origin is None:
        return None
    try:
        with open(origin, encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == attr:
            found: dict[str, object] = {}
            for stmt in node.body:
                if isinstance(stmt, ast.Assign):
                    targets, value = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, value = [stmt.target], stmt.value
                else:
                    continue
                for t in targets:
                    if isinstance(t, ast.Name) and t.id in FACTS:
                        try:
                            found[t.id] = ast.literal_eval(value)
                        except ValueError:
                            return None
            if set(found) == set(FACTS):
                return str(found["name"]), int(found["default_port"]), str(found["protocol"])  # type: ignore[call-overload]
            return None
    return None


def _source_of(module: str) -> str | None:
    """The .py file of `module`, found without importing it or its parent packages."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for depth in range(1, len(parts)):
            locations = spec.submodule_search_locations if spec is not None else None
            if not locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth + 1]), list(locations))
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    return origin if origin and origin.endswith(".py") else None


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

    @classmethod
    def find(cls, target: str, source: str = "mocktools") -> CatalogEntry:
        """The entry of "module:Class": from its source when the facts are literals, else imported."""
        facts = declared_facts(target)
        if facts is None:
            return cls.of(load_class(target), source)
        module, _, attr = target.partition(":")
        return cls(facts[0], module, attr, facts[1], facts[2], source)


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
                    entry = CatalogEntry.find(target)
                except ImportError as exc:  # a mock whose optional dependency is missing
                    self.errors[target] = f"{type(exc).__name__}: {exc}"
                    continue
                built[entry.name] = entry
            for ep_name, target, dist in _entry_point_targets():
                try:
                    entry = CatalogEntry.find(target, dist)
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
    """The catalog entries whose module imports (a mock whose dependencies are missing is left out)."""
    found = {}
    for name, entry in CATALOG.items():
        try:
            entry.load()
        except ImportError:
            continue
        found[name] = entry
    return found


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
