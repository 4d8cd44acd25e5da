"""MockOFDServer: the fiscal data operator's receipt API on the shared HTTP lifecycle."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from werkzeug.wrappers import Request

from ..clock import Clock
from ..routing import Router, read_json_object
from ..http_mock import HTTPMockServer
from .ledger import Acknowledgement, ReceiptLedger

RECEIPT_PATH = "/ofd/v1/receipt"
HEALTH_PATH = "/ofd/v1/health"
RESET_PATH = "/ofd/v1/_test/reset"


class MockOFDServer(HTTPMockServer):
    """Accepts fiscal documents at POST /ofd/v1/receipt and acknowledges each exactly once.

    `get_call_count()` counts receipt submissions (the OFD's API calls); pass `path=None` to
    count every request, health checks included.
    """

    name = "ofd"
    default_port = 9000
    protocol = "HTTP/JSON fiscal data operator"
    max_body_bytes: ClassVar[int] = 1024 * 1024
    fault_exempt_paths = frozenset({HEALTH_PATH, RESET_PATH})

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None,
                 id_fields: Sequence[str] | None = None) -> None:
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes)
        self.ledger = ReceiptLedger(self.clock, self.seed, *(() if id_fields is None else (id_fields,)))
        self._started_at = self.clock.time()

    # -- wire --------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        router.add(RECEIPT_PATH, self.post_receipt, methods=["POST"])
        router.add(HEALTH_PATH, self.get_health)
        router.add(RESET_PATH, self.post_reset, methods=["POST"])

    def register_admin_routes(self, router: Router) -> None:
        router.add("/_mock/receipts", lambda request: {"receipts": self.get_received_receipts()})

    def post_receipt(self, request: Request) -> dict[str, Any]:
        document = read_json_object(request)
        ack, duplicate = self.ledger.submit(document)
        return {"status": "accepted", **ack.to_dict(), "duplicate": duplicate}

    def get_health(self, request: Request) -> dict[str, Any]:
        return {"status": "ok", "mode": self.faults.mode(), **self.describe_state(),
                "call_count": self.get_call_count(), "uptime_s": round(self.clock.time() - self._started_at, 3)}

    def post_reset(self, request: Request) -> dict[str, Any]:
        self.reset()
        return {"status": "reset"}

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
        return {"receipts": self.ledger.count, "submissions": self.ledger.submissions,
                "duplicates": self.ledger.duplicates}

    #: the CLI's fault flags (--fail-count, ...) act on receipts only, so health checks stay green
    cli_fault_path: ClassVar[str] = RECEIPT_PATH


__all__ = ["MockOFDServer", "RECEIPT_PATH", "HEALTH_PATH", "RESET_PATH"]
