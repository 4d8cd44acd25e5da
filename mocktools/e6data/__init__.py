"""MockE6DataServer: the e6data query engine over gRPC, with blue/green strategy switching.

See docs/e6data.md. The domain (engine, strategy, catalog, encoding) is usable without a socket.
"""

from .catalog import DataCatalog, ResultSet
from .columns import Column
from .engine import E6DataEngine, EngineError, QueryRecord
from .mock import MockE6DataServer
from .strategy import StrategyManager

__all__ = ["MockE6DataServer", "E6DataEngine", "EngineError", "StrategyManager", "DataCatalog",
           "ResultSet", "Column", "QueryRecord"]
