"""The OFD's simulated world: accepted fiscal documents and their acknowledgements.

Plain thread-safe Python, no sockets: unit tests drive it directly. A document is identified by
its id field (or, lacking one, by a hash of its content), so a client's retry of the same
document is acknowledged again with the same fiscal sign and never stored twice.

Memory stays flat under load: every id ever accepted is remembered as an 8-byte digest (with
its acceptance time) in a compact table, so idempotency holds for millions of receipts at about
16-32 bytes each; only the last `window` documents are kept whole (as compact JSON, decoded on
inspection), and the counts are exact whatever the window.
"""
from __future__ import annotations

import collections
import hashlib
import hmac
import json
import threading
import uuid
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..clock import Clock, SystemClock

DEFAULT_ID_FIELDS = ("document_id", "documentId", "fiscal_document_number", "fiscalDocumentNumber",
                     "receipt_id", "receiptId", "id", "uuid")
DEFAULT_WINDOW = 10_000
_NAMESPACE = uuid.UUID("6f1d0c3e-5b4a-4e0f-9a51-6d6f636b6f66")
_SHARDS = 256


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
        return {"receipt_id": self.receipt_id, "document_id": self.document_id, "fiscal_sign": self.fiscal_sign,
                "accepted_at": self.accepted_at}


class DigestTable:
    """digest -> acceptance time, in open-addressed arrays split into shards (a shard grows alone,
    so no single insert pays for rehashing millions of entries). Not thread-safe by itself."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._keys = [array("Q", bytes(8 * 16)) for _ in range(_SHARDS)]
        self._times = [array("d", bytes(8 * 16)) for _ in range(_SHARDS)]
        self._used = [0] * _SHARDS
        self.size = 0

    @staticmethod
    def digest(key: str) -> int:
        raw = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(raw, "big") or 1  # 0 marks an empty slot

    def get_or_add(self, digest: int, when: float) -> float | None:
        """The stored time if `digest` is known; else store `when` and return None."""
        shard = digest & (_SHARDS - 1)
        keys = self._keys[shard]
        mask = len(keys) - 1
        slot = (digest >> 8) & mask
        while True:
            found = keys[slot]
            if found == digest:
                return self._times[shard][slot]
            if found == 0:
                break
            slot = (slot + 1) & mask
        keys[slot] = digest
        self._times[shard][slot] = when
        self._used[shard] += 1
        self.size += 1
        if self._used[shard] * 2 > len(keys):
            self._grow(shard)
        return None

    def get(self, digest: int) -> float | None:
        shard = digest & (_SHARDS - 1)
        keys = self._keys[shard]
        mask = len(keys) - 1
        slot = (digest >> 8) & mask
        while keys[slot]:
            if keys[slot] == digest:
                return self._times[shard][slot]
            slot = (slot + 1) & mask
        return None

    def _grow(self, shard: int) -> None:
        old_keys, old_times = self._keys[shard], self._times[shard]
        size = len(old_keys) * 2
        keys, times = array("Q", bytes(8 * size)), array("d", bytes(8 * size))
        mask = size - 1
        for index, key in enumerate(old_keys):
            if key:
                slot = (key >> 8) & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                times[slot] = old_times[index]
        self._keys[shard], self._times[shard] = keys, times

    @property
    def nbytes(self) -> int:
        return sum(len(k) * 16 for k in self._keys)


class ReceiptLedger:
    """Accepted documents in arrival order, each accepted once; the last `window` kept whole."""

    def __init__(self, clock: Clock | None = None, seed: int | None = None,
                 id_fields: Iterable[str] = DEFAULT_ID_FIELDS, window: int = DEFAULT_WINDOW) -> None:
        if window < 0:
            raise ValueError("window must be >= 0")
        self.clock = clock or SystemClock()
        self.id_fields = tuple(id_fields)
        self.window = int(window)
        self._key = f"mocktools-ofd-{seed if seed is not None else 0}".encode()
        self._lock = threading.Lock()
        self._ids = DigestTable()
        # (document id, acceptance time, the document as compact JSON or, if unencodable, itself)
        self._recent: collections.deque[tuple[str, float, Any]] = collections.deque(maxlen=self.window or None)
        self._submissions = 0

    def document_id(self, document: dict[str, Any]) -> str:
        """The document's own id, or a content hash when it carries none."""
        for field in self.id_fields:
            value = document.get(field)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                return str(value)
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def fiscal_sign(self, document_id: str) -> str:
        """A 10-digit fiscal sign, deterministic for the ledger's seed and the document id."""
        digest = hmac.digest(self._key, document_id.encode("utf-8", "surrogatepass"), "sha256")
        return f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"

    def _ack(self, doc_id: str, accepted: float) -> Acknowledgement:
        return Acknowledgement(
            receipt_id=str(uuid.uuid5(_NAMESPACE, self._key.decode() + "/" + doc_id.encode(
                "utf-8", "surrogatepass").decode("utf-8", "replace"))),
            document_id=doc_id, fiscal_sign=self.fiscal_sign(doc_id), accepted_at=iso_utc(accepted))

    def submit(self, document: dict[str, Any]) -> tuple[Acknowledgement, bool]:
        """Accept a document; returns its acknowledgement and whether it was a duplicate."""
        doc_id = self.document_id(document)
        digest = DigestTable.digest(doc_id)
        now = self.clock.time()
        stored = _freeze(document) if self.window else None
        with self._lock:
            self._submissions += 1
            known = self._ids.get_or_add(digest, now)
            if known is None and self.window:
                self._recent.append((doc_id, now, stored))
        return self._ack(doc_id, now if known is None else known), known is not None

    def receipts(self) -> list[dict[str, Any]]:
        """Fresh copies of the last `window` accepted documents, in order of first acceptance."""
        with self._lock:
            recent = list(self._recent)
        return [_thaw(stored) for _, _, stored in recent]

    def acknowledgements(self) -> list[Acknowledgement]:
        """Acknowledgements of the documents in the window, in order."""
        with self._lock:
            recent = list(self._recent)
        return [self._ack(doc_id, accepted) for doc_id, accepted, _ in recent]

    def get(self, document_id: str) -> Acknowledgement | None:
        """The acknowledgement of any document ever accepted (inside the window or not)."""
        digest = DigestTable.digest(document_id)
        with self._lock:
            accepted = self._ids.get(digest)
        return None if accepted is None else self._ack(document_id, accepted)

    @property
    def count(self) -> int:
        """Distinct documents accepted (exact, not bounded by the window)."""
        with self._lock:
            return self._ids.size

    @property
    def submissions(self) -> int:
        with self._lock:
            return self._submissions

    @property
    def duplicates(self) -> int:
        with self._lock:
            return self._submissions - self._ids.size

    def memory(self) -> dict[str, int]:
        """What the ledger holds, for health pages and soak benchmarks."""
        with self._lock:
            return {"ids": self._ids.size, "id_table_bytes": self._ids.nbytes, "window": self.window,
                    "kept": len(self._recent)}

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()
            self._recent.clear()
            self._submissions = 0


def _freeze(document: Any) -> Any:
    """A compact immutable copy: compact JSON (the object itself if it cannot be encoded)."""
    try:
        return json.dumps(document, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError):
        return _Raw(document)


class _Raw:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _thaw(stored: Any) -> Any:
    if isinstance(stored, _Raw):
        return stored.value
    return json.loads(stored)


__all__ = ["DEFAULT_ID_FIELDS", "DEFAULT_WINDOW", "Acknowledgement", "DigestTable", "ReceiptLedger", "iso_utc"]
