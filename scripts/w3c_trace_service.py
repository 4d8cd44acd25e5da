#!/usr/bin/env python
"""Serve the W3C Trace Context conformance endpoint (POST /test) built on mocktools.mesh.propagation.

    .venv/bin/python scripts/w3c_trace_service.py --port 5000
    # then, from a checkout of w3c/trace-context (needs aiohttp): cd test && python test.py http://127.0.0.1:5000/test
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mocktools.mesh.conformance import TraceContextTestService  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=TraceContextTestService.default_port)
    args = parser.parse_args(argv)
    with TraceContextTestService(args.host, args.port) as service:
        print(f"W3C trace-context test endpoint: {service.url}/test", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
