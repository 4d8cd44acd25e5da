"""The RESP protocol loop of MockRedisServer: one Session per TCP connection.

Each command goes through the TCP listener's `conn.call` (journal path = the command name,
faults, error translation), then: authentication, the RESP2 subscribed-mode rule, MULTI
queueing, the arity check, and the command itself. Connection commands (HELLO, AUTH, SELECT,
CLIENT, PING, ECHO, INFO, QUIT, RESET), pub/sub and transactions live here; the data commands
in commands.py and hashes.py.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from ..listeners.tcp import ConnectionDropped, TCPConnection
from . import hashes, lists  # noqa: F401 - they register their commands
from .commands import COMMANDS, Command, command, to_int, variants
from .keyspace import Subscriber
from .resp import (
    OK,
    PONG,
    QUEUED,
    ProtocolError,
    Push,
    RedisError,
    RequestReader,
    SimpleString,
    encode,
    encode_error,
)

if TYPE_CHECKING:
    from .mock import MockRedisServer

REDIS_VERSION = "7.4.0"
#: connection set-up commands the fault plan leaves alone (a fault names a data command, or a path)
FAULT_EXEMPT = frozenset({"HELLO", "AUTH", "CLIENT", "SELECT", "QUIT", "RESET", "COMMAND"})
_SUBSCRIBED_OK = frozenset({"SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "PING", "QUIT", "RESET"})
_ids = itertools.count(1)


class Frames(list):  # type: ignore[type-arg]
    """Several replies to one command (SUBSCRIBE answers once per channel)."""


class Session:
    """One client connection: selected db, protocol version, auth, subscriptions, MULTI queue."""

    def __init__(self, mock: MockRedisServer, conn: TCPConnection) -> None:
        self.mock = mock
        self.conn = conn
        self.keyspace = mock.keyspace
        self.stopping = mock.stopping
        self.id = next(_ids)
        self.db = 0
        self.protocol = 2
        self.name: bytes | None = None
        self.lib: dict[str, bytes] = {}
        self.authenticated = mock.password is None
        self.subscriber = Subscriber(self.deliver)
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.in_exec = False
        self.quit = False
        self.raw_name = ""

    # -- the loop ----------------------------------------------------------------------------
    def serve(self) -> None:
        reader = RequestReader(self.conn.reader)
        try:
            while not self.quit and not self.conn.closing:
                try:
                    args = reader.next_command()
                except ProtocolError as exc:
                    self.conn.send(encode_error(exc))
                    return
                if args is None:
                    return
                if args:
                    self.handle(args)
        finally:
            self.subscriber.channels.clear()
            self.subscriber.patterns.clear()
            self.keyspace.unsubscribe(self.subscriber)

    def handle(self, args: list[bytes]) -> None:
        self.raw_name = args[0].decode("utf-8", "replace")
        name = self.raw_name.upper()
        self.conn.call(name, b" ".join(args), lambda: self.reply(self.execute(name, args[1:])), encode_error,
                       method="REDIS", faults=name not in FAULT_EXEMPT,
                       meta={"db": self.db, "args": len(args) - 1})

    def reply(self, value: Any) -> bytes:
        if isinstance(value, Frames):
            return b"".join(encode(v, self.protocol) for v in value)
        return encode(value, self.protocol)

    def execute(self, name: str, args: list[bytes]) -> Any:
        cmd = COMMANDS.get(name)
        if cmd is None:
            shown = "".join(f"'{a.decode('utf-8', 'replace')[:128]}' " for a in args[:8])
            raise RedisError(f"ERR unknown command '{self.raw_name[:128]}', with args beginning with: {shown}")
        if not self.authenticated and name not in ("AUTH", "HELLO", "QUIT", "RESET"):
            raise RedisError("NOAUTH Authentication required.")
        if self.protocol == 2 and self.subscriber.count and name not in _SUBSCRIBED_OK:
            raise RedisError(f"ERR Can't execute '{name.lower()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                             "PING / QUIT / RESET are allowed in this context")
        n = len(args) + 1
        if (cmd.arity > 0 and n != cmd.arity) or (cmd.arity < 0 and n < -cmd.arity):
            if self.multi is not None:
                self.multi = None  # Redis discards a transaction with a bad command (EXECABORT)
            raise RedisError(f"ERR wrong number of arguments for '{name.lower()}' command")
        if self.multi is not None and name not in ("EXEC", "DISCARD", "MULTI", "QUIT", "RESET"):
            self.multi.append((cmd, args))
            return QUEUED
        return cmd.fn(self, args)

    def deliver(self, *fields: bytes) -> None:
        """Write a pub/sub message to this connection (from the publisher's thread)."""
        try:
            self.conn.send(encode(Push(fields), self.protocol))
        except ConnectionDropped:
            pass


# -- connection ------------------------------------------------------------------------------
@command("PING", -1, connection=True)
def ping(s: Session, args: list[bytes]) -> Any:
    if len(args) > 1:
        raise RedisError("ERR wrong number of arguments for 'ping' command")
    if s.protocol == 2 and s.subscriber.count:
        return [b"pong", args[0] if args else b""]
    return args[0] if args else PONG


@command("ECHO", 2, connection=True)
def echo(s: Session, args: list[bytes]) -> bytes:
    return args[0]


@command("QUIT", -1, connection=True)
def quit_(s: Session, args: list[bytes]) -> SimpleString:
    s.quit = True
    return OK


def _auth(s: Session, username: bytes, password: bytes) -> None:
    mock = s.mock
    if mock.password is None:
        raise RedisError("ERR AUTH <password> called without any password configured for the default user. "
                         "Are you sure your configuration is correct?")
    if username.decode() != mock.username or password.decode() != mock.password:
        raise RedisError("WRONGPASS invalid username-password pair or user is disabled.")
    s.authenticated = True


@command("AUTH", -2, connection=True)
def auth(s: Session, args: list[bytes]) -> SimpleString:
    if len(args) > 2:
        raise RedisError("ERR syntax error")
    username, password = (b"default", args[0]) if len(args) == 1 else (args[0], args[1])
    _auth(s, username, password)
    return OK


@command("HELLO", -1, connection=True)
def hello(s: Session, args: list[bytes]) -> dict[str, Any]:
    protocol = s.protocol
    if args:
        try:
            protocol = int(args[0])
        except ValueError:
            raise RedisError("ERR Protocol version is not an integer or out of range") from None
        if protocol not in (2, 3):
            raise RedisError("NOPROTO unsupported protocol version")
    rest = args[1:]
    while rest:
        option = rest[0].upper()
        if option == b"AUTH" and len(rest) >= 3:
            _auth(s, rest[1], rest[2])
            rest = rest[3:]
        elif option == b"SETNAME" and len(rest) >= 2:
            s.name, rest = rest[1], rest[2:]
        else:
            raise RedisError(f"ERR Syntax error in HELLO option '{rest[0].decode('utf-8', 'replace')}'")
    if not s.authenticated:
        raise RedisError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
                         "<proto> AUTH <user> <pass> option can be used to authenticate the client and select "
                         "the RESP protocol version at the same time")
    s.protocol = protocol
    return {"server": "redis", "version": REDIS_VERSION, "proto": protocol, "id": s.id, "mode": "standalone",
            "role": "master", "modules": []}


@command("SELECT", 2, connection=True)
def select(s: Session, args: list[bytes]) -> SimpleString:
    index = to_int(args[0], "value is not an integer or out of range")
    s.keyspace.db(index)
    s.db = index
    return OK


@command("CLIENT", -2, connection=True)
def client(s: Session, args: list[bytes]) -> Any:
    sub = args[0].upper()
    if sub == b"SETINFO" and len(args) == 3:
        attr = args[1].upper().decode()
        if attr not in ("LIB-NAME", "LIB-VER"):
            raise RedisError(f"ERR Unrecognized option '{args[1].decode('utf-8', 'replace')}'")
        s.lib[attr] = args[2]
        return OK
    if sub == b"SETNAME" and len(args) == 2:
        s.name = args[1] or None
        return OK
    if sub == b"GETNAME":
        return s.name
    if sub == b"ID":
        return s.id
    if sub in (b"INFO", b"LIST"):
        return _client_line(s) + ("\n" if sub == b"LIST" else "")
    raise RedisError(f"ERR unknown subcommand '{args[0].decode('utf-8', 'replace')}'. Try CLIENT HELP.")


def _client_line(s: Session) -> str:
    peer = s.conn.peer
    return (f"id={s.id} addr={peer[0]}:{peer[1]} name={(s.name or b'').decode()} db={s.db} "
            f"sub={len(s.subscriber.channels)} psub={len(s.subscriber.patterns)} resp={s.protocol} "
            f"lib-name={s.lib.get('LIB-NAME', b'').decode()} lib-ver={s.lib.get('LIB-VER', b'').decode()}")


@command("INFO", -1, connection=True)
def info(s: Session, args: list[bytes]) -> str:
    return s.mock.info_text([a.decode().lower() for a in args])


@command("COMMAND", -1, connection=True)
def command_(s: Session, args: list[bytes]) -> Any:
    if args and args[0].upper() == b"COUNT":
        return len(COMMANDS)
    return []  # COMMAND / COMMAND DOCS: clients use it for hints only


@command("RESET", 1, connection=True)
def reset(s: Session, args: list[bytes]) -> SimpleString:
    s.db, s.protocol, s.multi, s.name = 0, 2, None, None
    s.subscriber.channels.clear()
    s.subscriber.patterns.clear()
    s.keyspace.unsubscribe(s.subscriber)
    s.authenticated = s.mock.password is None
    return SimpleString("RESET")


# -- transactions ----------------------------------------------------------------------------
@command("MULTI", 1)
def multi(s: Session, args: list[bytes]) -> SimpleString:
    if s.multi is not None:
        raise RedisError("ERR MULTI calls can not be nested")
    s.multi = []
    return OK


@command("EXEC", 1)
def exec_(s: Session, args: list[bytes]) -> Any:
    if s.multi is None:
        raise RedisError("ERR EXEC without MULTI")
    queued, s.multi = s.multi, None
    replies: list[Any] = []
    with s.keyspace.lock:
        s.in_exec = True
        try:
            for cmd, cmd_args in queued:
                try:
                    replies.append(cmd.fn(s, cmd_args))
                except RedisError as exc:
                    replies.append(exc)
        finally:
            s.in_exec = False
    return replies


@command("DISCARD", 1)
def discard(s: Session, args: list[bytes]) -> SimpleString:
    if s.multi is None:
        raise RedisError("ERR DISCARD without MULTI")
    s.multi = None
    return OK


# -- pub/sub ---------------------------------------------------------------------------------
def _subscribe(s: Session, names: list[bytes], patterns: bool) -> Frames:
    kind = b"psubscribe" if patterns else b"subscribe"
    target = s.subscriber.patterns if patterns else s.subscriber.channels
    frames = Frames()
    for name in names:
        target.add(name)
        s.keyspace.subscribe(s.subscriber)
        frames.append(Push([kind, name, s.subscriber.count]))
    return frames


def _unsubscribe(s: Session, names: list[bytes], patterns: bool) -> Frames:
    kind = b"punsubscribe" if patterns else b"unsubscribe"
    target = s.subscriber.patterns if patterns else s.subscriber.channels
    frames = Frames()
    for name in names or sorted(target):
        target.discard(name)
        frames.append(Push([kind, name, s.subscriber.count]))
    if not frames:
        frames.append(Push([kind, None, s.subscriber.count]))
    s.keyspace.unsubscribe(s.subscriber)
    return frames


variants(_subscribe, -2, {"SUBSCRIBE": False, "PSUBSCRIBE": True}, connection=True)
variants(_unsubscribe, -1, {"UNSUBSCRIBE": False, "PUNSUBSCRIBE": True}, connection=True)


@command("PUBLISH", 3)
def publish(s: Session, args: list[bytes]) -> int:
    return s.keyspace.publish(args[0], args[1])


@command("PUBSUB", -2)
def pubsub(s: Session, args: list[bytes]) -> Any:
    sub = args[0].upper()
    if sub == b"CHANNELS":
        return s.keyspace.channels(args[1] if len(args) > 1 else None)
    if sub == b"NUMSUB":
        with s.keyspace.lock:
            subs = list(s.keyspace.subscribers)
        return [x for ch in args[1:] for x in (ch, sum(ch in sub.channels for sub in subs))]
    if sub == b"NUMPAT":
        with s.keyspace.lock:
            return sum(len(sub.patterns) for sub in s.keyspace.subscribers)
    raise RedisError(f"ERR unknown subcommand '{args[0].decode('utf-8', 'replace')}'. Try PUBSUB HELP.")


def serve(mock: MockRedisServer) -> Any:
    """The TCP listener's protocol function for `mock`."""
    def protocol(conn: TCPConnection) -> None:
        Session(mock, conn).serve()
    return protocol


__all__ = ["FAULT_EXEMPT", "REDIS_VERSION", "Session", "serve"]
