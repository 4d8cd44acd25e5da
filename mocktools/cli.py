"""`mocktools` / `python -m mocktools`: serve one mock, bring several up, or list them.

A mistake on the command line (unknown mock, bad port or flag value, missing or invalid spec
file) is one line on stderr and exit code 2, never a traceback; a port already in use is exit 1.
The fault flags (`add_fault_arguments`) are the same for `serve` and every `scripts/run_*.py`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, Callable, NoReturn, Sequence

from . import __version__, log
from .catalog import CATALOG, get_mock_class
from .errors import MockStartError
from .lifecycle import MockServerBase, is_loopback
from .mock_group import MockRegistry

CONNECTION_FAULTS = ("reset", "close", "garbage")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``prog: error: what (see --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# -- argument types: each names what it wants ------------------------------------------------
def port_number(text: str) -> int:
    """A TCP port, 0..65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port must be an integer 0..65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port must be 0..65535, got {value}")
    return value


def port_or_off(text: str) -> int:
    """A port, or -1 for "do not listen" (e.g. the OTLP collector's gRPC port)."""
    if text.strip() == "-1":
        return -1
    return port_number(text)


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def seconds(text: str) -> float:
    """A duration in seconds, >= 0 (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text}")
    return value


def positive_seconds(text: str) -> float:
    value = seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def status_code(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an HTTP status code 100..599, got {text!r}") from None
    if not 100 <= value <= 599:
        raise argparse.ArgumentTypeError(f"must be an HTTP status code 100..599, got {value}")
    return value


# -- the shared fault flags -----------------------------------------------------------------
def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The fault flags of `mocktools serve` and of every `scripts/run_*.py` (the same names everywhere)."""
    group = parser.add_argument_group("faults (the shared controls, applied before serving)")
    group.add_argument("--fail-count", type=non_negative_int, default=0, metavar="N",
                       help="the next N calls fail with --fail-status")
    group.add_argument("--permanent-failure", action="store_true", help="every call fails with --fail-status")
    group.add_argument("--fail-status", type=status_code, default=503, metavar="CODE",
                       help="status of injected failures (default 503; gRPC mocks map it to a gRPC code)")
    group.add_argument("--rate-limit", type=non_negative_int, default=None, metavar="N",
                       help="allow N calls per --rate-window, then 429 + Retry-After")
    group.add_argument("--rate-window", type=positive_seconds, default=1.0, metavar="SECONDS",
                       help="window of --rate-limit (default 1 s)")
    group.add_argument("--retry-after", type=seconds, default=None, metavar="SECONDS",
                       help="Retry-After of injected failures and rate limiting")
    group.add_argument("--latency", type=seconds, default=0.0, metavar="SECONDS", help="delay before each answer")
    group.add_argument("--connection-fault", choices=CONNECTION_FAULTS, default=None,
                       help="answer with a network fault instead of a response")
    group.add_argument("--fault-path", default=None, metavar="PATH",
                       help="apply the faults only to this path or pattern (default: the mock's main endpoint "
                            "where it has one, else every path)")


def apply_fault_arguments(mock: MockServerBase, args: argparse.Namespace) -> None:
    """Set the faults the flags of `add_fault_arguments` ask for."""
    path = args.fault_path if args.fault_path is not None else getattr(mock, "cli_fault_path", None)
    if args.fail_count:
        mock.set_failure_count(args.fail_count, status=args.fail_status, path=path, retry_after=args.retry_after)
    if args.permanent_failure:
        mock.set_permanent_failure(True, status=args.fail_status, path=path, retry_after=args.retry_after)
    if args.rate_limit is not None:
        mock.set_rate_limit(args.rate_limit, window=args.rate_window, path=path, retry_after=args.retry_after)
    if args.latency:
        mock.set_latency(args.latency, path=path)
    if args.connection_fault:
        mock.set_connection_fault(args.connection_fault, path=path)


def build_mock(parser: argparse.ArgumentParser, factory: Callable[..., MockServerBase], *args: Any,
               **kwargs: Any) -> MockServerBase:
    """`factory(*args, **kwargs)` (a mock class or its `from_cli`), turning bad configuration (a
    missing or invalid spec file, a value the mock refuses) into a one-line usage error."""
    try:
        return factory(*args, **kwargs)
    except FileNotFoundError as exc:
        parser.error(f"no such file: {exc.filename}")
    except OSError as exc:
        parser.error(f"cannot read {exc.filename or ''}: {exc.strerror or exc}")
    except ValueError as exc:  # SpecError, a refused value
        parser.error(" ".join(str(exc).split()))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=None, help="seed for every random choice")
    parser.add_argument("--verbose", action="store_true", help="log every request (one line naming the mock)")
    parser.add_argument("--log-level", type=str.upper, choices=log.LEVELS, default=None,
                        help="show mocktools' log lines at this level on stderr (lifecycle, faults; DEBUG: requests)")


def _serve_parser(name: str | None, cls: type[MockServerBase] | None) -> Parser:
    parser = Parser(prog=f"mocktools serve {name if cls is not None else 'NAME'}",
                    description="Serve one mock until Ctrl-C or SIGTERM.")
    parser.add_argument("name", choices=sorted(CATALOG), help="which mock")
    _common(parser)
    parser.add_argument("--port", type=port_number, default=None, help="port (default: the mock's well-known port)")
    parser.add_argument("--reload", action="store_true", help="restart when mocktools' source changes")
    parser.add_argument("--admin-port", type=port_number, default=None,
                        help="gRPC mocks: port of the /_mock/ HTTP control API (default: port + 1)")
    add_fault_arguments(parser)
    if cls is not None:
        cls.cli_arguments(parser)
    return parser


def _main_parser() -> Parser:
    parser = Parser(prog="mocktools", description="In-process mock servers that speak real protocols.")
    parser.add_argument("--version", action="version", version=f"mocktools {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", help="list the mocks and their well-known ports")
    up = sub.add_parser("up", help="start every mock on its well-known port")
    _common(up)
    up.add_argument("--only", default="", help="comma-separated mock names (default: all)")
    sub.add_parser("serve", help="serve one mock (see `mocktools serve NAME --help`)", add_help=False)
    sub.add_parser("record", help="record an upstream into a cassette (see `mocktools record --help`)", add_help=False)
    return parser


def print_table(registry: MockRegistry, out: Any = None) -> None:
    out = out or sys.stdout
    rows = [(name, type(mock).__name__, "  ".join(
        url if role == "url" else f"{role}: {url}" for role, url in mock.endpoints().items()))
        for name, mock in registry.items()]
    width = [max(len(r[i]) for r in rows + [("mock", "class", "url")]) for i in range(3)]
    print(f"{'mock':<{width[0]}}  {'class':<{width[1]}}  url", file=out)
    for name, cls, url in rows:
        print(f"{name:<{width[0]}}  {cls:<{width[1]}}  {url}", file=out)
    for name, mock in registry.items():
        if mock.admin_token and not is_loopback(mock.host):
            print(f"{name}: /_mock/ control token: {mock.admin_token}", file=out)
    out.flush()


def run_until_signalled(registry: MockRegistry, *, install_signals: bool = True,
                        stop_event: threading.Event | None = None) -> None:
    """Start the registry, print its table, block until Ctrl-C / SIGTERM, then stop cleanly."""
    stop_event = stop_event or threading.Event()
    if install_signals:
        def _on_signal(signum: int, frame: Any) -> None:
            stop_event.set()
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
    registry.start()
    try:
        print_table(registry)
        while not stop_event.wait(0.5):
            pass
    finally:
        registry.stop()
        print("stopped", flush=True)


def _transport_kwargs(cls: type[MockServerBase], port: int, admin_port: int | None = None) -> dict[str, Any]:
    """gRPC mocks get their /_mock/ HTTP control API beside them (port + 1 by default)."""
    from .grpc_mock import GRPCMockServer

    if not issubclass(cls, GRPCMockServer):
        return {}
    return {"admin_port": admin_port if admin_port is not None else (port + 1 if port else 0)}


def _serve(argv: Sequence[str]) -> int:
    name = next((a for a in argv if not a.startswith("-")), None)
    cls = get_mock_class(name) if name is not None and name in CATALOG else None
    parser = _serve_parser(name, cls)
    args = parser.parse_args(list(argv))
    assert cls is not None  # parse_args exits on an unknown name
    port = args.port if args.port is not None else CATALOG[args.name].port
    if args.log_level:
        log.configure(args.log_level)

    def build() -> MockServerBase:
        mock = build_mock(parser, cls.from_cli, args, host=args.host, port=port, seed=args.seed,
                          verbose=args.verbose, **_transport_kwargs(cls, port, args.admin_port))
        apply_fault_arguments(mock, args)
        return mock

    mock = build()  # configuration errors surface here, before any reloader starts
    if args.reload:
        from werkzeug._reloader import run_with_reloader

        run_with_reloader(lambda: run_until_signalled(MockRegistry({args.name: build()}), install_signals=False),
                          extra_files=None, exclude_patterns=None)
        return 0
    run_until_signalled(MockRegistry({args.name: mock}))
    return 0


def _up(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(CATALOG)
    unknown = [n for n in names if n not in CATALOG]
    if unknown:
        parser.error(f"unknown mock(s) {', '.join(unknown)}; known: {', '.join(CATALOG)}")
    if args.log_level:
        log.configure(args.log_level)
    registry = MockRegistry()
    for name in names:
        cls = get_mock_class(name)
        port = CATALOG[name].port
        registry.add(name, build_mock(parser, cls, host=args.host, port=port, seed=args.seed,
                                      verbose=args.verbose, **_transport_kwargs(cls, port)))
    run_until_signalled(registry)
    return 0


def _fail(message: str, code: int) -> int:
    print(f"mocktools: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "serve":
            return _serve(argv[1:])
        if argv and argv[0] == "record":
            from .record.cli import record_main

            return record_main(argv[1:])
        parser = _main_parser()
        args = parser.parse_args(argv)
        if args.command == "list":
            for entry in CATALOG.values():
                print(f"{entry.name:<10} {entry.port:>5}  {entry.class_name:<20} {entry.protocol}")
            return 0
        if args.command == "up":
            return _up(Parser(prog="mocktools up"), args)
        handler: Callable[[argparse.Namespace], int] = args.handler  # other subcommands: set_defaults(handler=)
        return handler(args)
    except MockStartError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
