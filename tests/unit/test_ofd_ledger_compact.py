"""The ledger's fast paths (issue 15) give exactly what the plain stdlib calls gave."""
from __future__ import annotations

import gc
import hmac
import random
import uuid
from datetime import datetime, timezone

import pytest

from mocktools.ofd.ledger import _NAMESPACE, ReceiptLedger, iso_utc
from mocktools.safe_json import loads


def _iso_reference(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_iso_utc_is_datetimes_rendering() -> None:
    rng = random.Random(15)
    edges = [0.0, 0.0005, 0.9994999, 0.9995, 0.9999995, 0.9999996, 59.9999996, 1e9 + 0.0004999, 1796131745.5862622]
    values = edges + [rng.uniform(0, 4e9) for _ in range(20_000)] + [1e9 + k / 1e6 for k in range(0, 3_000_000, 997)]
    assert [iso_utc(v) for v in values] == [_iso_reference(v) for v in values]


@pytest.mark.parametrize("doc_id", ["run-1-12345", "чек-7", "\ud800lone", "x" * 300, ""])
@pytest.mark.parametrize("seed", [None, 7])
def test_receipt_id_and_fiscal_sign_are_uuid5_and_hmac(doc_id: str, seed: int | None) -> None:
    ledger = ReceiptLedger(seed=seed)
    key = f"mocktools-ofd-{seed if seed is not None else 0}"
    name = key + "/" + doc_id.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    ack = ledger._ack(doc_id, 1.0)
    assert ack.receipt_id == str(uuid.uuid5(_NAMESPACE, name))
    digest = hmac.digest(key.encode(), doc_id.encode("utf-8", "surrogatepass"), "sha256")
    assert ack.fiscal_sign == f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"


def test_a_document_kept_as_its_source_reads_back_as_parsed() -> None:
    ledger = ReceiptLedger(window=3)
    source = b'{"document_id": "a", "items": [{"name": "\\ud800bread"}], "total": 1.5}'
    document = loads(source)
    ack, duplicate = ledger.submit(document, source=source)
    assert not duplicate and ack.document_id == "a"
    ledger.submit({"document_id": "b", "n": 1})
    assert ledger.receipts() == [document, {"document_id": "b", "n": 1}]
    assert ledger.submit(loads(source), source=source)[1]  # a duplicate, still kept once
    assert len(ledger.receipts()) == 2


def test_the_window_holds_nothing_the_garbage_collector_tracks() -> None:
    ledger = ReceiptLedger(window=100)
    for i in range(50):
        ledger.submit({"document_id": f"d{i}", "items": [{"qty": i}]}, source=None if i % 2 else b'{"document_id": "x"}')
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in ledger._recent)
