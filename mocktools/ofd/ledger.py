"""The OFD's simulated world: accepted fiscal documents and their acknowledgements.

Plain thread-safe Python, no sockets: unit tests drive it directly. A document is identified by
its id field (or, lacking one, by a hash of its content), so a client's retry of the same
document is acknowledged again with the same fiscal sign and never stored twice.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from ..clock import Clock, SystemClock

DEFAULT_ID_FIELDS = ("document_id", "documentId", "fiscal_document_number", "fiscalDocumentNumber",
                     "receipt_id", "receiptId", "id", "uuid")
_NAMESPACE = uuid.UUID("6f1d0c3e-5b4a-4e0f-9a51-6d6f636b6f66")


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Acknowledgement:
    """What the OFD answers for an accepted document."""

    receipt_id: str
    document_id: str
    fiscal_sign: str
    accepted_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReceiptLedger:
    """Accepted documents in arrival order, each stored once."""

    def __init__(self, clock: Clock | None = None, seed: int | None = None,
                 id_fields: Iterable[str] = DEFAULT_ID_FIELDS) -> None:
        self.clock = clock or SystemClock()
        self.id_fields = tuple(id_fields)
        self._key = f"mocktools-ofd-{seed if seed is not None else 0}".encode()
        self._lock = threading.Lock()
        self._documents: dict[str, dict[str, Any]] = {}
        self._acks: dict[str, Acknowledgement] = {}
        self._submissions = 0

    def document_id(self, document: dict[str, Any]) -> str:
        """The document's own id, or a content hash when it carries none."""
        for field in self.id_fields:
            value = document.get(field)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                return str(value)
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def fiscal_sign(self, document_id: str) -> str:
        """A 10-digit fiscal sign, deterministic for the ledger's seed and the document id."""
        digest = hmac.new(self._key, document_id.encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"

    def submit(self, document: dict[str, Any]) -> tuple[Acknowledgement, bool]:
        """Accept a document; returns its acknowledgement and whether it was a duplicate."""
        doc_id = self.document_id(document)
        with self._lock:
            self._submissions += 1
            known = self._acks.get(doc_id)
            if known is not None:
                return known, True
            ack = Acknowledgement(
                receipt_id=str(uuid.uuid5(_NAMESPACE, self._key.decode() + "/" + doc_id)),
                document_id=doc_id, fiscal_sign=self.fiscal_sign(doc_id), accepted_at=iso_utc(self.clock.time()))
            self._documents[doc_id] = copy.deepcopy(document)
            self._acks[doc_id] = ack
            return ack, False

    def receipts(self) -> list[dict[str, Any]]:
        """Copies of the accepted documents, in the order they were first accepted."""
        with self._lock:
            return [copy.deepcopy(doc) for doc in self._documents.values()]

    def acknowledgements(self) -> list[Acknowledgement]:
        with self._lock:
            return list(self._acks.values())

    def get(self, document_id: str) -> Acknowledgement | None:
        with self._lock:
            return self._acks.get(document_id)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._documents)

    @property
    def submissions(self) -> int:
        with self._lock:
            return self._submissions

    @property
    def duplicates(self) -> int:
        with self._lock:
            return self._submissions - len(self._documents)

    def clear(self) -> None:
        with self._lock:
            self._documents.clear()
            self._acks.clear()
            self._submissions = 0


__all__ = ["DEFAULT_ID_FIELDS", "Acknowledgement", "ReceiptLedger", "iso_utc"]
