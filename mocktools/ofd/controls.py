"""The OFD's domain controls under /_mock/: what the fiscal data operator accepted."""
from __future__ import annotations

from typing import Any

from ..control_schema import ControlRoute, integer, obj
from ..errors import ApiError
from .ledger import ReceiptLedger


def ofd_controls(ledger: ReceiptLedger) -> list[ControlRoute]:
    """The ledger's controls: accepted documents and their acknowledgements."""
    def receipts(limit: int | None = None) -> dict[str, Any]:
        docs = ledger.receipts()
        return {"count": len(docs), "receipts": docs if limit is None else docs[len(docs) - limit:] if limit else []}

    def acknowledgements() -> dict[str, Any]:
        return {"acknowledgements": [ack.to_dict() for ack in ledger.acknowledgements()]}

    def acknowledgement(document_id: str) -> dict[str, Any]:
        ack = ledger.get(document_id)
        if ack is None:
            raise ApiError(404, f"no accepted document with id {document_id!r}", type="not_found")
        return ack.to_dict()

    query = obj(limit=integer(0, 1_000_000, description="only the newest `limit` documents"))
    return [
        ControlRoute("/_mock/receipts", "GET", receipts, query, tag="ofd",
                     summary="The accepted documents, each once, in order of first acceptance"),
        ControlRoute("/_mock/ofd/receipts", "GET", receipts, query, tag="ofd",
                     summary="The accepted documents (same as /_mock/receipts)"),
        ControlRoute("/_mock/ofd/acknowledgements", "GET", acknowledgements, tag="ofd",
                     summary="The acknowledgement (receipt id, fiscal sign) of every accepted document"),
        ControlRoute("/_mock/ofd/acknowledgements/<document_id>", "GET", acknowledgement, tag="ofd",
                     summary="The acknowledgement of one document", responses={404: "no such document"}),
    ]


__all__ = ["ofd_controls"]
