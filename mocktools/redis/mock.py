"""MockRedisServer: Redis on the raw TCP listener (RESP2/RESP3), with the /_mock/ API on `admin_port`.

A mock of a TCP protocol is three things: a domain without sockets (keyspace.py), a protocol
loop that reads frames and hands each to `conn.call` (wire.py), and this class, which is the
lifecycle plus its listeners. The walk-through is docs/writing-a-mock.md.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, ClassVar

from ..clock import Clock, Duration, FakeClock, to_seconds, to_seconds_or_none
from ..control_api import AdminAPI
from ..lifecycle import MockServerBase
from ..listeners.tcp import TCPListener
from ..routing import Router
from .controls import redis_controls
from .keyspace import Entry, Keyspace
from .wire import REDIS_VERSION, serve


class MockRedisServer(MockServerBase):
    """A Redis server for tests: strings with TTLs on the mock clock, hashes, lists with blocking
    pops, pub/sub, transactions, sixteen databases, optional AUTH; shared faults and journal
    (one record per command, path = the command name, e.g. `SET`)."""

    name: ClassVar[str] = "redis"
    default_port: ClassVar[int] = 6379
    protocol: ClassVar[str] = "Redis RESP2/RESP3 over TCP"
    scheme: ClassVar[str] = "redis"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 seed: int | None = None, journal_limit: int = 10_000, admin_token: str | None = None,
                 verbose: bool = False, admin_port: int | None = None, password: str | None = None,
                 username: str = "default", databases: int = 16) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose)
        self.password = password
        self.username = username
        self.keyspace = Keyspace(self.clock, databases)
        self.tcp = self.add_listener(TCPListener(self, serve(self), port=self._requested_port, scheme="redis"))
        self.admin = AdminAPI(self)
        self.register_admin_routes(self.admin.router)
        self.admin.add_controls(redis_controls(self.keyspace, self.clock))
        self.admin_port = admin_port
        self.admin_listener = self.add_admin_listener(admin_port)

    def register_admin_routes(self, router: Router) -> None:
        """Add undeclared routes under /_mock/ (the domain's are declared in controls.py)."""

    # -- lifecycle -------------------------------------------------------------------------
    def _open(self) -> int:
        self.keyspace.reopen()
        return super()._open()

    def _close(self) -> None:
        self.keyspace.close()  # blocked BLPOPs return at once; then the listeners close
        super()._close()

    # -- domain controls -------------------------------------------------------------------
    def advance(self, seconds: Duration) -> float:
        """Move the mock's FakeClock (keys expire, blocking pops time out) and wake waiters."""
        if not isinstance(self.clock, FakeClock):
            raise TypeError("advance() needs the mock to run on a FakeClock (MockRedisServer(clock=FakeClock()))")
        now = self.clock.advance(seconds)
        self.keyspace.wake()
        return now

    def set(self, key: str | bytes, value: str | bytes, *, ttl: Duration | None = None, db: int = 0) -> None:
        """Seed a string key directly (`ttl` in seconds or a timedelta, on the mock clock)."""
        ttl = to_seconds_or_none(ttl, "ttl")
        expires = None if ttl is None else self.keyspace.now() + ttl
        self.keyspace.put(db, _b(key), Entry("string", _b(value), expires))

    def get(self, key: str | bytes, db: int = 0) -> Any:
        """The value at `key` as Python sees it: bytes, a dict (hash), a list, or None."""
        entry = self.keyspace.entry(db, _b(key))
        if entry is None:
            return None
        return list(entry.value) if entry.kind == "list" else dict(entry.value) if entry.kind == "hash" \
            else entry.value

    def keys(self, pattern: str = "*", db: int = 0) -> list[bytes]:
        return self.keyspace.keys(db, _b(pattern))

    def ttl(self, key: str | bytes, db: int = 0) -> float | None:
        """Seconds left on `key` (None: no expiry or no key)."""
        entry = self.keyspace.entry(db, _b(key))
        return None if entry is None or entry.expires is None else entry.expires - self.keyspace.now()

    def publish(self, channel: str | bytes, message: str | bytes) -> int:
        """Publish as another client would; returns how many subscribers received it."""
        return self.keyspace.publish(_b(channel), _b(message))

    def subscribers(self, channel: str | bytes | None = None) -> int:
        with self.keyspace.lock:
            subs = list(self.keyspace.subscribers)
        return sum(1 for s in subs if channel is None or _b(channel) in s.channels)

    def commands(self, name: str | None = None) -> list[list[bytes]]:
        """The commands the journal holds (each as its argument list), optionally of one name."""
        return [c.body.split(b" ") for c in self.journal.calls(name.upper() if name else None)]

    def wait_for_blocked(self, n: int = 1, timeout: Duration = 5.0) -> int:
        """Wait until `n` clients are blocked in BLPOP/BRPOP (a blocked command is journaled
        only when it returns, so this is how a test knows a consumer is waiting)."""
        return self.keyspace.wait_blocked(n, to_seconds(timeout, "timeout"))

    @property
    def connections(self) -> int:
        return self.tcp.connections()

    # -- hooks -----------------------------------------------------------------------------
    def reset_state(self) -> None:
        self.keyspace.flush()

    def describe_state(self) -> dict[str, Any]:
        return {**self.keyspace.describe(), "connections": self.connections}

    def info_text(self, sections: Iterable[str] = ()) -> str:
        wanted = set(sections) - {"all", "everything", "default"}
        ks = self.keyspace
        blocks: dict[str, dict[str, Any]] = {
            "server": {"redis_version": REDIS_VERSION, "redis_mode": "standalone", "os": "mocktools",
                       "tcp_port": self.port, "process_id": 1, "run_id": "0" * 40},
            "clients": {"connected_clients": self.connections, "blocked_clients": ks.blocked,
                        "pubsub_clients": self.subscribers()},
            "memory": {"used_memory": 1024, "maxmemory": 0, "maxmemory_policy": "noeviction"},
            "persistence": {"loading": 0, "rdb_changes_since_last_save": 0},
            "stats": {"total_commands_processed": self.journal.count(), "pubsub_channels": len(ks.channels())},
            "replication": {"role": "master", "connected_slaves": 0},
            "keyspace": {f"db{i}": f"keys={n},expires={self._expiring(i)},avg_ttl=0"
                         for i in range(len(ks.dbs)) if (n := ks.size(i))},
        }
        lines = []
        for section, fields in blocks.items():
            if wanted and section not in wanted:
                continue
            lines.append(f"# {section.capitalize()}")
            lines.extend(f"{key}:{value}" for key, value in fields.items())
            lines.append("")
        return "\r\n".join(lines)

    def _expiring(self, db: int) -> int:
        with self.keyspace.lock:
            return sum(1 for k in self.keyspace.keys(db) if self.keyspace.db(db)[k].expires is not None)

    def endpoints(self) -> dict[str, str]:
        return super().endpoints()

    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--password", help="require AUTH with this password (user 'default')")

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockRedisServer:
        port = int(kwargs.get("port") or 0)
        chosen = getattr(args, "admin_port", None)  # `--admin-port`, else beside it as for gRPC mocks
        kwargs.setdefault("admin_port", chosen if chosen is not None else (port + 1 if port else 0))
        return cls(password=getattr(args, "password", None), **kwargs)


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


__all__ = ["MockRedisServer"]
