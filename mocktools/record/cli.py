"""`mocktools record --upstream URL --cassette FILE`: a recording proxy until Ctrl-C / SIGTERM."""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .backend import RECORD_MODES
from .cassette import DEFAULT_MATCH_ON, DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_QUERY

if TYPE_CHECKING:
    from ..doubles.app_server import MockHTTPServer


def record_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocktools record", description="Proxy to an upstream and record every interaction into a "
                                             "VCR.py-format cassette (written on exit); replay it with "
                                             "`mocktools serve http --cassette FILE`.")
    parser.add_argument("--upstream", required=True, help="the real service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--cassette", required=True, help="the YAML cassette to write")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port of the proxy (default 8080; 0 picks one)")
    parser.add_argument("--record-mode", choices=RECORD_MODES, default="all",
                        help="all: record everything (default); new_episodes: replay what matches, record the rest")
    parser.add_argument("--match-on", default=",".join(DEFAULT_MATCH_ON), help="fields a replay matches on")
    parser.add_argument("--redact-header", action="append", default=[], metavar="NAME",
                        help=f"also redact this header (always: {', '.join(DEFAULT_REDACT_HEADERS)})")
    parser.add_argument("--redact-query", action="append", default=[], metavar="NAME",
                        help=f"also redact this query parameter (always: {', '.join(DEFAULT_REDACT_QUERY)})")
    parser.add_argument("--no-redact", action="store_true", help="keep secrets in the cassette (not advised)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def build_proxy(argv: Sequence[str]) -> MockHTTPServer:
    """The recording MockHTTPServer that `mocktools record ARGS` serves (not started)."""
    from ..doubles.app_server import MockHTTPServer

    args = record_parser().parse_args(list(argv))
    headers = [] if args.no_redact else [*DEFAULT_REDACT_HEADERS, *args.redact_header]
    query = [] if args.no_redact else [*DEFAULT_REDACT_QUERY, *args.redact_query]
    return MockHTTPServer(args.host, args.port, upstream=args.upstream, cassette=args.cassette,
                          record_mode=args.record_mode, match_on=[f for f in args.match_on.split(",") if f],
                          redact_headers=headers, redact_query=query, verbose=args.verbose)


def record_main(argv: Sequence[str]) -> int:
    from ..cli import run_until_signalled
    from ..mock_group import MockRegistry

    args = record_parser().parse_args(list(argv))
    proxy = build_proxy(argv)
    print(f"recording {args.upstream} into {args.cassette}", flush=True)
    run_until_signalled(MockRegistry({"record": proxy}))
    print(f"cassette: {args.cassette} ({len(proxy.cassette or [])} interactions)", flush=True)
    return 0


__all__ = ["build_proxy", "record_main", "record_parser"]
