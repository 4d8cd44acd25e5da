"""The mocks mocktools ships, by name: where each lives and its well-known port.

Classes are imported lazily, so the CLI and the pytest plugin load only the mocks they use.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the catalog stays cheap: the plugin and CLI read it first
    from .lifecycle import MockServerBase


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    module: str
    class_name: str
    port: int
    protocol: str

    def load(self) -> type[MockServerBase]:
        cls: type[MockServerBase] = getattr(importlib.import_module(self.module), self.class_name)
        return cls


CATALOG: dict[str, CatalogEntry] = {e.name: e for e in (
    CatalogEntry("ofd", "mocktools.ofd", "MockOFDServer", 9000, "HTTP/JSON fiscal data operator"),
    CatalogEntry("otlp", "mocktools.otlp", "MockOTLPCollector", 4318, "OTLP/HTTP (+ gRPC) collector"),
    CatalogEntry("vllm", "mocktools.vllm", "MockVLLMServer", 8000, "vLLM OpenAI-compatible API"),
    CatalogEntry("teraslice", "mocktools.teraslice", "MockTerasliceServer", 5678, "Teraslice cluster master"),
    CatalogEntry("e6data", "mocktools.e6data", "MockE6DataServer", 50051, "e6data engine over gRPC"),
    CatalogEntry("mesh", "mocktools.mesh", "MockServiceMesh", 8500, "service mesh + Consul-style registry"),
)}


def get_mock_class(name: str) -> type[MockServerBase]:
    try:
        entry = CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown mock {name!r}; known: {', '.join(CATALOG)}") from None
    return entry.load()


def available() -> dict[str, CatalogEntry]:
    """The catalog entries whose module imports (a mock still being built is left out)."""
    found = {}
    for name, entry in CATALOG.items():
        try:
            entry.load()
        except (ImportError, AttributeError):
            continue
        found[name] = entry
    return found


__all__ = ["CATALOG", "CatalogEntry", "get_mock_class", "available"]
