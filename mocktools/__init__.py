"""mocktools: in-process mock servers that speak real wire protocols.

The mock classes load lazily (`from mocktools import MockOFDServer` imports only the OFD mock);
their names come from `catalog.BUILTIN_MOCKS`, and type checkers see the real classes through
the `TYPE_CHECKING` imports below (a test keeps both in step).
"""
from typing import TYPE_CHECKING

from .catalog import BUILTIN_MOCKS, class_name_of, load_class
from .clock import Clock, FakeClock, SystemClock
from .errors import ApiError, MockError, MockServerError, MockStartError, WireError
from .faults import FaultDecision, FaultPlan
from .http_mock import HTTPMockServer
from .journal import CallRecord, Journal
from .lifecycle import MockServerBase
from .mock_group import (
    MockRegistry,
    MockServerConfig,
    start_mock_servers_async,
    stop_mock_servers,
)

if TYPE_CHECKING:
    from .doubles.app_server import MockHTTPServer as MockHTTPServer
    from .e6data.mock import MockE6DataServer as MockE6DataServer
    from .grpc_mock import GRPCMockServer as GRPCMockServer
    from .mesh.mock import MockServiceMesh as MockServiceMesh
    from .ofd.mock import MockOFDServer as MockOFDServer
    from .otlp.mock import MockOTLPCollector as MockOTLPCollector
    from .redis.mock import MockRedisServer as MockRedisServer
    from .teraslice.mock import MockTerasliceServer as MockTerasliceServer
    from .vllm.mock import MockVLLMServer as MockVLLMServer

__version__ = "0.1.0"

_LAZY: dict[str, str] = {class_name_of(target): target for target in BUILTIN_MOCKS}
_LAZY["GRPCMockServer"] = "mocktools.grpc_mock:GRPCMockServer"


def __getattr__(name: str) -> type:
    """Mock classes load on first use (`from mocktools import MockOFDServer`)."""
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'mocktools' has no attribute {name!r}")
    cls = load_class(target)
    globals()[name] = cls
    return cls


__all__ = [
    "ApiError",
    "CallRecord",
    "Clock",
    "FakeClock",
    "FaultDecision",
    "FaultPlan",
    "HTTPMockServer",
    "Journal",
    "MockError",
    "MockRegistry",
    "MockServerBase",
    "MockServerConfig",
    "MockServerError",
    "MockStartError",
    "SystemClock",
    "WireError",
    "start_mock_servers_async",
    "stop_mock_servers",
]
__all__ += list(_LAZY)  # the mock classes, from catalog.BUILTIN_MOCKS
