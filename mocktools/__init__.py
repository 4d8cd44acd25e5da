"""mocktools: in-process mock servers that speak real wire protocols."""
from .clock import Clock, FakeClock, SystemClock
from .errors import ApiError, MockError, MockServerError, MockStartError
from .faults import FaultDecision, FaultPlan
from .journal import CallRecord, Journal
from .mock_group import MockRegistry, MockServerConfig, start_mock_servers_async, stop_mock_servers
from .http_mock import HTTPMockServer
from .lifecycle import MockServerBase

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Mock classes load lazily (`from mocktools import MockOFDServer`)."""
    from .catalog import CATALOG

    for entry in CATALOG.values():
        if entry.class_name == name:
            return entry.load()
    if name == "GRPCMockServer":
        from .grpc_mock import GRPCMockServer

        return GRPCMockServer
    raise AttributeError(f"module 'mocktools' has no attribute {name!r}")


__all__ = ["Clock", "FakeClock", "SystemClock", "ApiError", "MockError", "MockServerError", "MockStartError",
           "FaultDecision", "FaultPlan", "CallRecord", "Journal", "MockRegistry", "MockServerConfig",
           "start_mock_servers_async", "stop_mock_servers", "HTTPMockServer", "MockServerBase",
           "MockOFDServer", "MockOTLPCollector", "MockVLLMServer", "MockTerasliceServer", "MockE6DataServer",
           "MockServiceMesh", "GRPCMockServer", "MockHTTPServer"]
