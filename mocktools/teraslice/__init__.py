"""MockTerasliceServer: a live, time-aware Teraslice cluster master (HTTP/JSON, port 5678)."""
from .actions import ActionError
from .mock import MockTerasliceServer
from .model import TerasliceCluster
from .states import StatusError

__all__ = ["MockTerasliceServer", "TerasliceCluster", "ActionError", "StatusError"]
