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
import json
import math
import threading
import uuid
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import safe_json
from ..clock import Clock, SystemClock

DEFAULT_ID_FIELDS = ("document_id", "documentId", "fiscal_document_number", "fiscalDocumentNumber",
                     "receipt_id", "receiptId", "id", "uuid")
DEFAULT_WINDOW = 10_000
_NAMESPACE = uuid.UUID("6f1d0c3e-5b4a-4e0f-9a51-6d6f636b6f66")
_SHARDS = 2048  # a shard holds ~500 ids at 1M: growing one (on the request path) copies ~1,000 slots
_SHIFT = 11  # log2(_SHARDS): the digest's low bits pick the shard, the next ones the slot
_EMPTY_KEYS = array("Q", bytes(8 * 16))  # shared by every shard not written yet (never written to)
_EMPTY_TIMES = array("d", bytes(8 * 16))


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps(..., separators=...) without a new encoder
_SECOND: tuple[int, str] = (0, "1970-01-01T00:00:00")  # the last whole second formatted (one per second)


def iso_utc(epoch: float) -> str:
    """`epoch` as ISO 8601 UTC with milliseconds ("2026-01-01T00:00:00.000Z"), as datetime renders
    it (microseconds rounded half-even, then cut to milliseconds); the date part is cached."""
    global _SECOND
    frac, whole = math.modf(epoch)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    second = int(whole)
    cached = _SECOND
    if cached[0] != second:
        stamp = datetime.fromtimestamp(second, tz=timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
        cached = _SECOND = (second, stamp)
    return f"{cached[1]}.{micros // 1000:03d}Z"


class _Signer:
    """HMAC-SHA256 under one key with the pads hashed once (what hmac.digest does, at half the cost)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _uuid5(prefix: bytes, name: bytes) -> str:
    """str(uuid.uuid5(namespace, name)) with `prefix` = namespace.bytes (no UUID object built)."""
    value = int.from_bytes(hashlib.sha1(prefix + name).digest()[:16], "big")
    value = (value & ~(0xF000 << 64) | (0x5000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    hexed = "%032x" % value
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


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
    so no single insert pays for rehashing millions of entries; a shard gets arrays of its own on
    its first insert). Not thread-safe by itself."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._keys = [_EMPTY_KEYS] * _SHARDS
        self._times = [_EMPTY_TIMES] * _SHARDS
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
        if keys is _EMPTY_KEYS:
            keys = self._keys[shard] = array("Q", bytes(8 * 16))
            self._times[shard] = array("d", bytes(8 * 16))
        mask = len(keys) - 1
        slot = (digest >> _SHIFT) & mask
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
        slot = (digest >> _SHIFT) & mask
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
                slot = (key >> _SHIFT) & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                times[slot] = old_times[index]
        self._keys[shard], self._times[shard] = keys, times

    @property
    def nbytes(self) -> int:
        return sum(len(k) * 16 for k in self._keys if k is not _EMPTY_KEYS)


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
        self._signer = _Signer(self._key)
        self._receipt_prefix = _NAMESPACE.bytes + self._key + b"/"
        self._lock = threading.Lock()
        self._ids = DigestTable()
        # (document id, acceptance time, the document as compact JSON (str), as the JSON text it
        # came in (bytes) or, if unencodable, itself); only atomic values: the GC stops tracking them
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
        digest = self._signer.digest(document_id.encode("utf-8", "surrogatepass"))
        return f"{int.from_bytes(digest[:8], 'big') % 10**10:010d}"

    def _ack(self, doc_id: str, accepted: float) -> Acknowledgement:
        raw = doc_id.encode("utf-8", "surrogatepass")
        # the receipt id is uuid5(namespace, key + "/" + id), a lone surrogate in the id read as U+FFFD
        name = raw if doc_id.isascii() else raw.decode("utf-8", "replace").encode("utf-8")
        return Acknowledgement(receipt_id=_uuid5(self._receipt_prefix, name), document_id=doc_id,
                               fiscal_sign=self.fiscal_sign(doc_id), accepted_at=iso_utc(accepted))

    def submit(self, document: dict[str, Any], *, source: bytes | None = None) -> tuple[Acknowledgement, bool]:
        """Accept a document; returns its acknowledgement and whether it was a duplicate.

        `source`: the JSON text `document` was parsed from (by `safe_json.loads`), kept as it is
        instead of encoding the document again (the wire passes the request body)."""
        doc_id = self.document_id(document)
        digest = DigestTable.digest(doc_id)
        now = self.clock.time()
        stored = (bytes(source) if source is not None else _freeze(document)) if self.window else None
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

    def stats(self) -> dict[str, int]:
        """Distinct receipts, submissions and duplicates, read together (one lock)."""
        with self._lock:
            return {"receipts": self._ids.size, "submissions": self._submissions,
                    "duplicates": self._submissions - self._ids.size}

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
        return _ENCODE(document)
    except (RecursionError, ValueError, TypeError):
        return _Raw(document)


class _Raw:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _thaw(stored: Any) -> Any:
    if isinstance(stored, _Raw):
        return stored.value
    if isinstance(stored, bytes):  # the JSON text it came in (see `submit`'s `source`)
        return safe_json.loads(stored)
    return json.loads(stored)


__all__ = ["DEFAULT_ID_FIELDS", "DEFAULT_WINDOW", "Acknowledgement", "DigestTable", "ReceiptLedger", "iso_utc"]
