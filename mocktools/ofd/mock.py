"""MockOFDServer: the fiscal data operator's receipt API on the shared HTTP lifecycle."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..clock import Clock
from ..http_mock import HTTPMockServer
from .controls import ofd_controls
from .ledger import DEFAULT_WINDOW, Acknowledgement, ReceiptLedger
from .wire import HEALTH_PATH, RECEIPT_PATH, RESET_PATH, OFDWire


class MockOFDServer(OFDWire, HTTPMockServer):
    """Accepts fiscal documents at POST /ofd/v1/receipt and acknowledges each exactly once.

    `get_call_count()` counts receipt submissions (the OFD's API calls); pass `path=None` to
    count every request, health checks included.
    """

    name = "ofd"
    default_port = 9000
    protocol = "HTTP/JSON fiscal data operator"
    max_body_bytes: ClassVar[int] = 1024 * 1024
    fault_exempt_paths = frozenset({HEALTH_PATH, RESET_PATH})
    #: off loopback the test-reset route needs the control token, like /_mock/ (issue 17 item 12)
    token_protected_paths = frozenset({RESET_PATH})

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None, engine: str | None = None,
                 id_fields: Sequence[str] | None = None, receipt_window: int = DEFAULT_WINDOW) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes, engine=engine)
        # receipt_window: documents kept whole; counts and idempotency stay exact (see docs/ofd.md)
        self.ledger = ReceiptLedger(self.clock, self.seed, **({} if id_fields is None else {"id_fields": id_fields}),
                                    window=receipt_window)
        self._started_at = self.clock.time()
        self.admin.add_controls(ofd_controls(self.ledger))


    # -- domain controls ---------------------------------------------------------------------
    def get_received_receipts(self) -> list[dict[str, Any]]:
        """The accepted documents (each once, in order of first acceptance)."""
        return self.ledger.receipts()

    def get_acknowledgements(self) -> list[Acknowledgement]:
        return self.ledger.acknowledgements()

    def get_duplicate_count(self) -> int:
        """How many submissions repeated an already accepted document."""
        return self.ledger.duplicates

    def get_call_count(self, path: str | None = RECEIPT_PATH) -> int:
        return self.journal.count(path)

    def reset_state(self) -> None:
        self.ledger.clear()

    def describe_state(self) -> dict[str, Any]:
        return self.ledger.stats()

    #: the CLI's fault flags (--fail-count, ...) act on receipts only, so health checks stay green
    cli_fault_path: ClassVar[str] = RECEIPT_PATH


__all__ = ["HEALTH_PATH", "RECEIPT_PATH", "RESET_PATH", "MockOFDServer"]
