"""mocktools: in-process mock servers that speak real wire protocols.

Every public name loads lazily (`from mocktools import MockOFDServer` imports only the OFD mock),
so `import mocktools` - which pytest does when it loads the plugin, before coverage starts - stays
cheap. The mock classes' names come from `catalog.BUILTIN_MOCKS`; type checkers and IDEs see the
real classes through the `TYPE_CHECKING` imports below (a test keeps both in step).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .catalog import BUILTIN_MOCKS, class_name_of

if TYPE_CHECKING:
    from .clock import Clock as Clock, FakeClock as FakeClock, SystemClock as SystemClock
    from .doubles.app_server import MockHTTPServer as MockHTTPServer
    from .e6data.mock import MockE6DataServer as MockE6DataServer
    from .errors import ApiError as ApiError, MockError as MockError, WireError as WireError
    from .errors import MockServerError as MockServerError, MockStartError as MockStartError
    from .faults import FaultDecision as FaultDecision, FaultPlan as FaultPlan
    from .grpc_mock import GRPCMockServer as GRPCMockServer
    from .http_mock import HTTPMockServer as HTTPMockServer
    from .journal import CallRecord as CallRecord, Journal as Journal
    from .lifecycle import MockServerBase as MockServerBase
    from .mesh.mock import MockServiceMesh as MockServiceMesh
    from .mock_group import MockRegistry as MockRegistry, MockServerConfig as MockServerConfig
    from .mock_group import start_mock_servers_async as start_mock_servers_async
    from .mock_group import stop_mock_servers as stop_mock_servers
    from .ofd.mock import MockOFDServer as MockOFDServer
    from .otlp.mock import MockOTLPCollector as MockOTLPCollector
    from .redis.mock import MockRedisServer as MockRedisServer
    from .teraslice.mock import MockTerasliceServer as MockTerasliceServer
    from .vllm.mock import MockVLLMServer as MockVLLMServer

__version__ = "0.1.0"

#: public name -> "module:attribute"
_LAZY: dict[str, str] = {
    **{name: f"mocktools.clock:{name}" for name in ("Clock", "FakeClock", "SystemClock")},
    **{name: f"mocktools.errors:{name}" for name in ("ApiError", "MockError", "MockServerError", "MockStartError",
                                                     "WireError")},
    **{name: f"mocktools.faults:{name}" for name in ("FaultDecision", "FaultPlan")},
    **{name: f"mocktools.journal:{name}" for name in ("CallRecord", "Journal")},
    **{name: f"mocktools.mock_group:{name}" for name in ("MockRegistry", "MockServerConfig",
                                                         "start_mock_servers_async", "stop_mock_servers")},
    "HTTPMockServer": "mocktools.http_mock:HTTPMockServer",
    "MockServerBase": "mocktools.lifecycle:MockServerBase",
    **{class_name_of(target): target for target in BUILTIN_MOCKS},
    "GRPCMockServer": "mocktools.grpc_mock:GRPCMockServer",
}

#: lets `pytest -p mocktools` load the fixtures even where the pytest11 entry point is not installed
pytest_plugins = ["mocktools.pytest_plugin"]


def __getattr__(name: str) -> Any:
    """Load a public name on first use and cache it on the module."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mocktools' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [*_LAZY]
