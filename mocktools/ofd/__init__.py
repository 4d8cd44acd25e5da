"""The OFD (fiscal data operator) mock: receipts in, acknowledgements out, each document once."""
from .ledger import Acknowledgement, ReceiptLedger
from .mock import HEALTH_PATH, RECEIPT_PATH, RESET_PATH, MockOFDServer

__all__ = ["HEALTH_PATH", "RECEIPT_PATH", "RESET_PATH", "Acknowledgement", "MockOFDServer", "ReceiptLedger"]
