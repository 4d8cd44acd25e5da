"""The OFD's public HTTP API: receipt submission, health, test reset; the ledger keeps the state."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..routing import Router, read_json_object
from .ledger import ReceiptLedger

if TYPE_CHECKING:
    from ..clock import Clock
    from ..faults import FaultPlan

RECEIPT_PATH = "/ofd/v1/receipt"
HEALTH_PATH = "/ofd/v1/health"
RESET_PATH = "/ofd/v1/_test/reset"


class OFDWire:
    """Routes of a mock that has a `ledger`, `faults`, a clock and the shared controls."""

    ledger: ReceiptLedger
    faults: FaultPlan
    clock: Clock
    _started_at: float

    if TYPE_CHECKING:  # provided by the mock class
        def describe_state(self) -> dict[str, Any]: ...
        def get_call_count(self, path: str | None = RECEIPT_PATH) -> int: ...
        def reset(self) -> None: ...

    def register_routes(self, router: Router) -> None:
        # inline: these two never block (the ledger's and the journal's short locks only), so an
        # engine may run them on its loop thread; reset clears the whole mock (stubs, subclass
        # state), which a subclass may make wait, so it stays on a worker
        router.add(RECEIPT_PATH, self.post_receipt, methods=["POST"], inline=True)
        router.add(HEALTH_PATH, self.get_health, inline=True)
        router.add(RESET_PATH, self.post_reset, methods=["POST"])

    def post_receipt(self, request: Request) -> dict[str, Any]:
        document = read_json_object(request)
        submit = self.ledger.submit
        if getattr(submit, "__func__", None) is ReceiptLedger.submit:  # keep the body instead of re-encoding
            ack, duplicate = submit(document, source=request.get_data(cache=True))  # type: ignore[arg-type]
        else:  # a replaced or overridden submit (a test's double) keeps the one-argument call
            ack, duplicate = submit(document)
        return {"status": "accepted", **ack.to_dict(), "duplicate": duplicate}

    def get_health(self, request: Request) -> dict[str, Any]:
        return {"status": "ok", "mode": self.faults.mode(), **self.describe_state(),
                "call_count": self.get_call_count(), "uptime_s": round(self.clock.time() - self._started_at, 3)}

    def post_reset(self, request: Request) -> dict[str, Any]:
        self.reset()
        return {"status": "reset"}


__all__ = ["HEALTH_PATH", "RECEIPT_PATH", "RESET_PATH", "OFDWire"]
