"""mocktools: in-process mock servers that speak real wire protocols.

Every public name loads lazily (`from mocktools import MockOFDServer` imports only the OFD mock),
so `import mocktools` - which pytest does when it loads the plugin, before coverage starts - stays
cheap. The `TYPE_CHECKING` imports below give type checkers and IDEs the real classes.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import Clock as Clock, FakeClock as FakeClock, SystemClock as SystemClock
    from .e6data import MockE6DataServer as MockE6DataServer
    from .errors import ApiError as ApiError, MockError as MockError
    from .errors import MockServerError as MockServerError, MockStartError as MockStartError
    from .faults import FaultDecision as FaultDecision, FaultPlan as FaultPlan
    from .grpc_mock import GRPCMockServer as GRPCMockServer
    from .http_mock import HTTPMockServer as HTTPMockServer
    from .journal import CallRecord as CallRecord, Journal as Journal
    from .lifecycle import MockServerBase as MockServerBase
    from .mesh import MockServiceMesh as MockServiceMesh
    from .mock_group import MockRegistry as MockRegistry, MockServerConfig as MockServerConfig
    from .mock_group import start_mock_servers_async as start_mock_servers_async
    from .mock_group import stop_mock_servers as stop_mock_servers
    from .ofd import MockOFDServer as MockOFDServer
    from .otlp import MockOTLPCollector as MockOTLPCollector
    from .teraslice import MockTerasliceServer as MockTerasliceServer
    from .vllm import MockVLLMServer as MockVLLMServer

__version__ = "0.1.0"

#: public name -> the module that defines it (mock classes also come from the catalog)
_LAZY: dict[str, str] = {
    "Clock": ".clock", "FakeClock": ".clock", "SystemClock": ".clock",
    "ApiError": ".errors", "MockError": ".errors", "MockServerError": ".errors", "MockStartError": ".errors",
    "FaultDecision": ".faults", "FaultPlan": ".faults",
    "CallRecord": ".journal", "Journal": ".journal",
    "MockRegistry": ".mock_group", "MockServerConfig": ".mock_group",
    "start_mock_servers_async": ".mock_group", "stop_mock_servers": ".mock_group",
    "HTTPMockServer": ".http_mock", "MockServerBase": ".lifecycle", "GRPCMockServer": ".grpc_mock",
}

#: lets `pytest -p mocktools` load the fixtures even where the pytest11 entry point is not installed
pytest_plugins = ["mocktools.pytest_plugin"]


def __getattr__(name: str) -> Any:
    """Load a public name on first use and cache it on the module."""
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    else:
        from .catalog import CATALOG

        for entry in CATALOG.values():
            if entry.class_name == name:
                value = entry.load()
                break
        else:
            raise AttributeError(f"module 'mocktools' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = ["Clock", "FakeClock", "SystemClock", "ApiError", "MockError", "MockServerError", "MockStartError",
           "FaultDecision", "FaultPlan", "CallRecord", "Journal", "MockRegistry", "MockServerConfig",
           "start_mock_servers_async", "stop_mock_servers", "HTTPMockServer", "MockServerBase",
           "MockOFDServer", "MockOTLPCollector", "MockVLLMServer", "MockTerasliceServer", "MockE6DataServer",
           "MockServiceMesh", "GRPCMockServer"]
