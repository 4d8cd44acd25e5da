"""The OFD ledger without a socket."""
from __future__ import annotations

import threading

from mocktools.clock import FakeClock
from mocktools.ofd import ReceiptLedger


def test_accepts_once_and_acknowledges_duplicates_identically() -> None:
    ledger = ReceiptLedger(FakeClock(1_700_000_000), seed=1)
    ack, dup = ledger.submit({"document_id": "A", "total": 1})
    again, dup2 = ledger.submit({"document_id": "A", "total": 1})
    assert (dup, dup2) == (False, True) and ack == again
    assert ack.accepted_at == "2023-11-14T22:13:20.000Z"
    assert len(ack.fiscal_sign) == 10 and ack.fiscal_sign.isdigit()
    assert ledger.count == 1 and ledger.submissions == 2 and ledger.duplicates == 1


def test_fiscal_sign_depends_on_seed_and_id() -> None:
    a, b = ReceiptLedger(seed=1), ReceiptLedger(seed=2)
    assert a.fiscal_sign("X") == ReceiptLedger(seed=1).fiscal_sign("X")
    assert a.fiscal_sign("X") != b.fiscal_sign("X") and a.fiscal_sign("X") != a.fiscal_sign("Y")


def test_id_fields_in_order_and_content_hash_fallback() -> None:
    ledger = ReceiptLedger()
    assert ledger.document_id({"fiscalDocumentNumber": 42}) == "42"
    assert ledger.document_id({"id": True, "x": 1}).startswith("sha256:")
    assert ledger.document_id({"id": " "}).startswith("sha256:")
    custom = ReceiptLedger(id_fields=("ref",))
    assert custom.document_id({"ref": "R1", "document_id": "D1"}) == "R1"


def test_receipts_are_copies_in_order_and_clear_empties() -> None:
    ledger = ReceiptLedger()
    for i in range(3):
        ledger.submit({"document_id": str(i), "lines": [i]})
    receipts = ledger.receipts()
    receipts[0]["lines"].append("mutated")
    assert [r["document_id"] for r in ledger.receipts()] == ["0", "1", "2"]
    assert ledger.receipts()[0]["lines"] == [0]
    assert ledger.get("1") is not None and len(ledger.acknowledgements()) == 3
    ledger.clear()
    assert ledger.count == 0 and ledger.submissions == 0 and ledger.get("1") is None


def test_concurrent_submissions_store_each_document_once() -> None:
    ledger = ReceiptLedger()

    def worker() -> None:
        for i in range(200):
            ledger.submit({"document_id": f"D{i}"})

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.count == 200 and ledger.submissions == 1600


def test_window_bounds_kept_documents_while_counts_and_idempotency_stay_exact() -> None:
    clock = FakeClock(1_700_000_000)
    ledger = ReceiptLedger(clock, window=3)
    first, _ = ledger.submit({"document_id": "D0", "total": 0})
    for i in range(1, 1000):
        clock.advance(1)
        ledger.submit({"document_id": f"D{i}", "total": i})
    assert ledger.count == 1000 and ledger.submissions == 1000
    assert [r["document_id"] for r in ledger.receipts()] == ["D997", "D998", "D999"]
    assert [a.document_id for a in ledger.acknowledgements()] == ["D997", "D998", "D999"]
    again, duplicate = ledger.submit({"document_id": "D0", "total": 0})  # long out of the window
    assert duplicate and again == first and ledger.get("D0") == first
    assert ledger.count == 1000 and ledger.duplicates == 1 and ledger.memory()["kept"] == 3


def test_window_zero_keeps_no_documents_but_every_count() -> None:
    ledger = ReceiptLedger(window=0)
    for i in range(50):
        ledger.submit({"document_id": str(i % 10)})
    assert ledger.receipts() == [] and ledger.count == 10 and ledger.duplicates == 40


def test_unencodable_documents_are_still_kept() -> None:
    ledger = ReceiptLedger()
    deep: list = []
    node = deep
    for _ in range(5000):
        node.append([])
        node = node[0]
    ledger.submit({"document_id": "deep", "x": "\ud800", "deep": deep})
    kept = ledger.receipts()[0]
    assert kept["x"] == "\ud800" and ledger.count == 1
