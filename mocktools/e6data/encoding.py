"""Result encoding exactly as e6data-python-connector decodes it.

* Metadata (``GetResultMetadataResponse.resultMetaData``): Java ``DataOutputStream`` layout,
  big-endian: int64 row count, int32 column count, then per column four "modified UTF"
  strings (uint16 length + bytes): name, type name, zone, date format.
* A batch (``GetNextResultBatchResponse.resultBatch``): one Thrift ``Chunk`` (see
  proto/e6x_vector.thrift) written with the strict binary protocol through the Thrift library
  (the C-accelerated codec when it is installed). The end of a result is empty bytes.
"""

from __future__ import annotations

import struct
from typing import Any, Sequence

from thrift.protocol import TBinaryProtocol
from thrift.transport import TTransport

from ._generated.e6x_vector.ttypes import (
    BoolData, Chunk, Data, DateData, Decimal128Data, Float32Data, Float64Data, Int32Data,
    Int64Data, TimeData, VarcharData, Vector, VectorType,
)
from .columns import (
    Column, date_to_micros, datetime_to_micros, decimal_to_bytes, interval_to_micros, zone_of,
)

_PROTOCOL = TBinaryProtocol.TBinaryProtocolAcceleratedFactory()


def _utf(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("metadata string longer than 65535 bytes")
    return struct.pack(">H", len(raw)) + raw


def encode_metadata(row_count: int, columns: Sequence[Column], zone: str = "UTC",
                    date_format: str = "") -> bytes:
    """The metadata blob: row count (cursor.rowcount) and one entry per column."""
    parts = [struct.pack(">qi", row_count, len(columns))]
    for column in columns:
        parts.append(_utf(column.name) + _utf(column.type) + _utf(zone) + _utf(date_format))
    return b"".join(parts)


def _placeholder(type_name: str) -> Any:
    return {"BOOLEAN": False, "STRING": ""}.get(type_name, 0)


def build_vector(column: Column, values: Sequence[Any]) -> Vector:
    """One column of a chunk; NULLs are flagged in nullSet and padded in the data list."""
    t = column.type
    nulls = [v is None for v in values]
    vector = Vector(size=len(values), vectorType=VectorType._NAMES_TO_VALUES[t], nullSet=nulls,
                    isConstantVector=False, zoneOffset="", format="")
    if t == "NULL":
        vector.nullSet = [True] * len(values)
        vector.data = Data()
        return vector
    if t == "DECIMAL128":
        zero = bytes(16)
        vector.data = Data(decimal128Data=Decimal128Data(
            data=[zero if v is None else decimal_to_bytes(v, column.scale) for v in values],
            scale=column.scale))
        return vector
    if t in ("DATETIME", "TIMESTAMP_TZ"):
        micros = [0 if v is None else datetime_to_micros(v) for v in values]
        zones = [zone_of(v) for v in values] if t == "TIMESTAMP_TZ" else None
        vector.data = Data(timeData=TimeData(data=micros, zoneData=zones))
        return vector
    fill = _placeholder(t)
    if t == "DATE":
        vector.data = Data(dateData=DateData(data=[0 if v is None else date_to_micros(v) for v in values]))
    elif t == "INTERVAL_DAY_SECOND":
        vector.data = Data(int64Data=Int64Data(data=[0 if v is None else interval_to_micros(v) for v in values]))
    elif t == "LONG":
        vector.data = Data(int64Data=Int64Data(data=[fill if v is None else int(v) for v in values]))
    elif t == "INTEGER":
        vector.data = Data(int32Data=Int32Data(data=[fill if v is None else int(v) for v in values]))
    elif t == "DOUBLE":
        vector.data = Data(float64Data=Float64Data(data=[fill if v is None else float(v) for v in values]))
    elif t == "FLOAT":
        vector.data = Data(float32Data=Float32Data(data=[fill if v is None else float(v) for v in values]))
    elif t == "BOOLEAN":
        vector.data = Data(boolData=BoolData(data=[fill if v is None else bool(v) for v in values]))
    else:  # STRING
        vector.data = Data(varcharData=VarcharData(data=[fill if v is None else str(v) for v in values]))
    return vector


def encode_chunk(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> bytes:
    """Serialize rows as one Thrift Chunk (column-major vectors)."""
    width = len(columns)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} values, the result has {width} columns")
    by_column = list(zip(*rows)) if rows else [() for _ in columns]
    chunk = Chunk(size=len(rows), vectors=[build_vector(c, vals) for c, vals in zip(columns, by_column)])
    transport = TTransport.TMemoryBuffer()
    chunk.write(_PROTOCOL.getProtocol(transport))
    return transport.getvalue()


def decode_chunk(payload: bytes) -> Chunk:
    """Read a Chunk back (used by tests and the journal's debugging helpers)."""
    chunk = Chunk()
    chunk.read(_PROTOCOL.getProtocol(TTransport.TMemoryBuffer(payload)))
    return chunk
