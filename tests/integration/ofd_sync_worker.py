"""A small receipt sync worker, as an OFD client would write it: requests + retries + pybreaker.

It is test-side code (not part of mocktools): the system under test that the OFD mock is for.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pybreaker
import requests


@dataclass
class Receipt:
    receipt_id: str
    document: dict[str, Any]
    status: str = "pending"  # pending -> synced | failed
    retry_count: int = 0
    fiscal_sign: str | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


class SyncWorker:
    """Sends buffered receipts to the OFD; retries transient failures; a breaker guards the OFD."""

    def __init__(self, base_url: str, *, fail_max: int = 5, reset_timeout: float = 60.0,
                 max_retries: int = 5, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_timeout,
                                                state_storage=self.storage, name="ofd")
        self.max_retries = max_retries
        self.timeout = timeout
        self.session = requests.Session()
        self.receipts: dict[str, Receipt] = {}
        self._ids = itertools.count(1)

    def create_receipt(self, total: float = 100.0) -> str:
        receipt_id = f"R-{next(self._ids):05d}"
        self.receipts[receipt_id] = Receipt(receipt_id, {
            "document_id": receipt_id, "type": "sale", "total": total,
            "items": [{"name": "coffee", "price": total, "qty": 1}]})
        return receipt_id

    def _send(self, receipt: Receipt) -> dict[str, Any]:
        receipt.attempts += 1
        response = self.session.post(f"{self.base_url}/ofd/v1/receipt", json=receipt.document, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def sync(self, receipt_id: str) -> Receipt:
        """One sync pass: up to max_retries retries; a open breaker leaves the receipt pending."""
        receipt = self.receipts[receipt_id]
        for attempt in range(self.max_retries + 1):
            try:
                ack = self.breaker.call(self._send, receipt)
            except pybreaker.CircuitBreakerError as exc:
                receipt.errors.append(f"breaker: {exc}")
                return receipt
            except requests.RequestException as exc:
                receipt.errors.append(str(exc))
                if attempt < self.max_retries:
                    receipt.retry_count += 1
                continue
            receipt.status, receipt.fiscal_sign = "synced", ack["fiscal_sign"]
            return receipt
        receipt.status = "failed"
        return receipt

    def age_open_breaker(self, seconds: float) -> None:
        """Move the breaker's opening time back, as if `seconds` had passed (no sleeping)."""
        from datetime import timedelta

        opened = self.storage.opened_at
        if opened is not None:
            self.storage.opened_at = opened - timedelta(seconds=seconds)
