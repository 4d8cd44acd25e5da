"""A Redis mock on the raw TCP listener: RESP2/RESP3, strings, hashes, lists, pub/sub."""
from .mock import MockRedisServer

__all__ = ["MockRedisServer"]
