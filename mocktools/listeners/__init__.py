"""Transports of a mock: each listener binds, serves, stops, and is the one place where the
journal, the fault plan and handler errors are applied for its transport.

Submodules are imported where used (`mocktools.listeners.grpc` needs grpcio), so importing
this package costs nothing.
"""
from .base import Listener, bind_error, url_host

__all__ = ["Listener", "bind_error", "url_host"]
