"""The four OFD sync scenarios, driven by a real requests + pybreaker client."""
from __future__ import annotations

import pybreaker
import pytest
import requests

from mocktools import MockOFDServer

from .ofd_sync_worker import SyncWorker


@pytest.fixture
def ofd():
    with MockOFDServer() as server:
        yield server


def test_success_syncs_receipt_once(ofd: MockOFDServer) -> None:
    worker = SyncWorker(ofd.url)
    receipt = worker.sync(worker.create_receipt())
    assert receipt.status == "synced" and receipt.retry_count == 0
    received = ofd.get_received_receipts()
    assert [r["document_id"] for r in received] == [receipt.receipt_id]
    assert receipt.fiscal_sign == ofd.get_acknowledgements()[0].fiscal_sign


def test_three_temporary_failures_then_synced_with_retry_count_3(ofd: MockOFDServer) -> None:
    ofd.set_failure_count(3)
    worker = SyncWorker(ofd.url)
    receipt = worker.sync(worker.create_receipt())
    assert receipt.status == "synced"
    assert receipt.retry_count == 3
    assert ofd.get_call_count() == 4
    assert [c.status for c in ofd.calls] == [503, 503, 503, 200]
    assert len(ofd.get_received_receipts()) == 1


def test_permanent_failure_opens_breaker_after_5_and_fast_fails(ofd: MockOFDServer) -> None:
    ofd.set_permanent_failure(True)
    worker = SyncWorker(ofd.url, fail_max=5, max_retries=0)
    outcomes = [worker.sync(worker.create_receipt()).status for _ in range(5)]
    assert outcomes == ["failed"] * 4 + ["pending"]  # pybreaker raises on the call that trips it
    assert worker.breaker.current_state == pybreaker.STATE_OPEN
    calls_before = ofd.get_call_count()
    assert calls_before == 5
    sixth = worker.sync(worker.create_receipt())
    assert sixth.status == "pending"
    assert sixth.attempts == 0
    assert ofd.get_call_count() == calls_before  # the breaker kept the call from reaching the OFD
    assert ofd.get_received_receipts() == []


def test_breaker_recovers_after_reset_timeout(ofd: MockOFDServer) -> None:
    ofd.set_permanent_failure(True)
    worker = SyncWorker(ofd.url, fail_max=5, reset_timeout=30.0, max_retries=0)
    for _ in range(5):
        worker.sync(worker.create_receipt())
    assert worker.breaker.current_state == pybreaker.STATE_OPEN
    ofd.set_success()
    still_open = worker.sync(worker.create_receipt())
    assert still_open.status == "pending" and worker.breaker.current_state == pybreaker.STATE_OPEN
    worker.age_open_breaker(31)  # the configured reset timeout passes, without sleeping
    receipt = worker.sync(worker.create_receipt())
    assert receipt.status == "synced"
    assert worker.breaker.current_state == pybreaker.STATE_CLOSED
    assert [r["document_id"] for r in ofd.get_received_receipts()] == [receipt.receipt_id]


def test_retried_receipt_is_not_stored_twice(ofd: MockOFDServer) -> None:
    session = requests.Session()
    doc = {"document_id": "DOC-1", "total": 10}
    first = session.post(f"{ofd.url}/ofd/v1/receipt", json=doc).json()
    second = session.post(f"{ofd.url}/ofd/v1/receipt", json=doc).json()
    assert first["fiscal_sign"] == second["fiscal_sign"] and first["receipt_id"] == second["receipt_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert len(ofd.get_received_receipts()) == 1 and ofd.get_duplicate_count() == 1
