"""Record and replay: a proxy that records an upstream into a VCR.py-format cassette, and a mock
that answers from one (streamed bodies replayed with their chunk timing on the mock's clock)."""
from __future__ import annotations

import os
from typing import Any

from .cassette import (
    DEFAULT_MATCH_ON,
    DEFAULT_REDACT_HEADERS,
    DEFAULT_REDACT_QUERY,
    REDACTED,
    Cassette,
    Interaction,
    Redactor,
)


def record(upstream: str, cassette: str | os.PathLike[str] | None = None, *, record_mode: str = "all",
           **kwargs: Any) -> Any:
    """A started-on-enter MockHTTPServer that forwards to `upstream` and records each interaction;
    the cassette is written when it stops (`with record(URL, "c.yaml") as proxy: ...`)."""
    from ..doubles.app_server import MockHTTPServer

    return MockHTTPServer(upstream=upstream, cassette=cassette, record_mode=record_mode, **kwargs)


def replay(cassette: str | os.PathLike[str] | Cassette, **kwargs: Any) -> Any:
    """A MockHTTPServer answering from `cassette` only (`match_on`, `speed`, `clock` as keywords)."""
    from ..doubles.app_server import MockHTTPServer

    return MockHTTPServer(cassette=cassette, record_mode="none", **kwargs)


__all__ = [
    "DEFAULT_MATCH_ON",
    "DEFAULT_REDACT_HEADERS",
    "DEFAULT_REDACT_QUERY",
    "REDACTED",
    "Cassette",
    "Interaction",
    "Redactor",
    "record",
    "replay",
]
