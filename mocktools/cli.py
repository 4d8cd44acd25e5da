"""`mocktools` / `python -m mocktools`: serve one mock, bring all of them up, or list them."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, Sequence

from .catalog import CATALOG, get_mock_class
from .errors import MockStartError
from .mock_group import MockRegistry
from .lifecycle import MockServerBase, is_loopback


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=None, help="seed for every random choice")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def _serve_parser(name: str | None, cls: type[MockServerBase] | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"mocktools serve {name or 'NAME'}",
                                     description="Serve one mock until Ctrl-C or SIGTERM.")
    parser.add_argument("name", choices=sorted(CATALOG), help="which mock")
    _common(parser)
    parser.add_argument("--port", type=int, default=None, help="port (default: the mock's well-known port)")
    parser.add_argument("--reload", action="store_true", help="restart when mocktools' source changes")
    parser.add_argument("--admin-port", type=int, default=None,
                        help="gRPC mocks: port of the /_mock/ HTTP control API (default: port + 1)")
    if cls is not None:
        cls.cli_arguments(parser)
    return parser


def _main_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mocktools", description="In-process mock servers that speak real protocols.")
    sub = parser.add_subparsers(dest="command", required=True)
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
    cls = get_mock_class(name) if name in CATALOG else None
    args = _serve_parser(name, cls).parse_args(list(argv))
    assert cls is not None
    port = args.port if args.port is not None else CATALOG[args.name].port

    def build_and_run(install_signals: bool = True) -> None:
        mock = cls.from_cli(args, host=args.host, port=port, seed=args.seed, verbose=args.verbose,
                            **_transport_kwargs(cls, port, args.admin_port))
        run_until_signalled(MockRegistry({args.name: mock}), install_signals=install_signals)

    if args.reload:
        from werkzeug._reloader import run_with_reloader

        run_with_reloader(lambda: build_and_run(install_signals=False),
                          extra_files=None, exclude_patterns=None)
        return 0
    build_and_run()
    return 0


def _up(args: argparse.Namespace) -> int:
    names = [n for n in args.only.split(",") if n] or list(CATALOG)
    registry = MockRegistry()
    for name in names:
        cls = get_mock_class(name)
        port = CATALOG[name].port
        registry.add(name, cls, host=args.host, port=port, seed=args.seed, verbose=args.verbose,
                     **_transport_kwargs(cls, port))
    run_until_signalled(registry)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "serve":
            return _serve(argv[1:])
        if argv and argv[0] == "record":
            from .record.cli import record_main

            return record_main(argv[1:])
        args = _main_parser().parse_args(argv)
        if args.command == "list":
            for entry in CATALOG.values():
                print(f"{entry.name:<10} {entry.port:>5}  {entry.class_name:<20} {entry.protocol}")
            return 0
        return _up(args)
    except MockStartError as exc:
        print(f"mocktools: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

