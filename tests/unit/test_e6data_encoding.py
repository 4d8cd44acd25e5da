"""Result encoding round-trips through the real client's decoders (metadata + Thrift chunks)."""

import datetime as dt
from decimal import Decimal
from io import BytesIO

import pytest
from e6data_python_connector.datainputstream import get_query_columns_info, read_rows_from_chunk

from mocktools.e6data.columns import (
    Column, date_to_micros, datetime_to_micros, decimal_to_bytes, generated_value, generator_source,
    interval_to_micros, make_columns, mix, normalize_type, zone_of,
)
from mocktools.e6data.encoding import decode_chunk, encode_chunk, encode_metadata

ALL = make_columns([("id", "LONG"), ("i", "INT"), ("d", "DOUBLE"), ("f", "FLOAT"), ("s", "VARCHAR"),
                    ("b", "BOOL"), ("day", "DATE"), ("ts", "TIMESTAMP"), ("tz", "TIMESTAMP_TZ"),
                    ("dec", "DECIMAL", 3), ("n", "NULL"), ("iv", "INTERVAL")])


def client_decode(columns, rows, count=None):
    _, desc = get_query_columns_info(BytesIO(encode_metadata(len(rows) if count is None else count, columns)))
    return read_rows_from_chunk(desc, encode_chunk(columns, rows), strict=True)


def test_metadata_layout_is_what_the_client_reads():
    count, desc = get_query_columns_info(BytesIO(encode_metadata(12345678901, ALL)))
    assert count == 12345678901
    assert [(c.get_name(), c.get_field_type()) for c in desc] == [(c.name, c.type) for c in ALL]
    assert desc[6].get_zone() == "UTC"
    assert encode_metadata(0, [])[:12] == b"\x00" * 8 + b"\x00\x00\x00\x00"


def test_every_type_and_null_decodes():
    tz = dt.timezone(dt.timedelta(hours=-3, minutes=-30))
    row = (2**40, -7, 2.5, 0.25, "héllo", False, dt.date(1969, 12, 31), dt.datetime(2024, 2, 29, 23, 59, 58, 5000),
           dt.datetime(2024, 1, 1, 12, 0, tzinfo=tz), Decimal("-1234.567"), None, dt.timedelta(days=1, seconds=5))
    nulls = (None,) * len(ALL)
    decoded = client_decode(ALL, [row, nulls])
    assert decoded[0] == [2**40, -7, 2.5, 0.25, "héllo", False, "1969-12-31", "2024-02-29T23:59:58.005+00:00",
                          "2024-01-01T12:00:00.000-03:30", Decimal("-1234.567"), None,
                          dt.timedelta(days=1, seconds=5)]
    assert decoded[1] == [None] * len(ALL)


def test_chunk_is_a_thrift_struct_with_one_vector_per_column():
    chunk = decode_chunk(encode_chunk(ALL[:2], [(1, 2), (3, None)]))
    assert chunk.size == 2 and len(chunk.vectors) == 2
    assert chunk.vectors[1].nullSet == [False, True]
    assert chunk.vectors[1].data.int32Data.data == [2, 0]


def test_empty_chunk_and_row_width_checks():
    assert decode_chunk(encode_chunk(ALL[:1], [])).size == 0
    with pytest.raises(ValueError, match="2 values"):
        encode_chunk(ALL[:1], [(1, 2)])
    with pytest.raises(ValueError, match="65535"):
        encode_metadata(1, [Column("x" * 70000, "LONG")])


def test_conversions():
    assert date_to_micros("1970-01-02") == 86_400_000_000
    assert date_to_micros(dt.datetime(1970, 1, 2, 5)) == 86_400_000_000
    assert date_to_micros(5) == 5
    assert datetime_to_micros("1970-01-01T00:00:01") == 1_000_000
    assert datetime_to_micros(dt.date(1970, 1, 2)) == 86_400_000_000
    assert datetime_to_micros(7) == 7
    assert zone_of(dt.datetime(2024, 1, 1)) == "+00:00"
    assert zone_of(dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45)))) == "+05:45"
    assert int.from_bytes(decimal_to_bytes("-0.5", 2), "big", signed=True) == -50
    assert interval_to_micros(3) == 3


def test_column_declarations():
    assert normalize_type("bigint") == "LONG"
    with pytest.raises(ValueError, match="unsupported"):
        normalize_type("GEOMETRY")
    cols = make_columns(["a:long", "b", Column("c", "DATE"), ("d", "DECIMAL", 4)])
    assert [c.type for c in cols] == ["LONG", "STRING", "DATE", "DECIMAL128"] and cols[3].scale == 4
    with pytest.raises(ValueError, match="duplicate"):
        make_columns(["a", "a"])
    with pytest.raises(ValueError, match="name"):
        Column("", "LONG")
    with pytest.raises(ValueError, match="scale"):
        Column("x", "DECIMAL128", scale=40)


def test_generated_rows_are_seeded_and_slice_independent():
    source = generator_source(ALL, seed=42, null_every=5)
    whole = source(0, 20)
    assert source(7, 12) == whole[7:12]
    assert generator_source(ALL, seed=42, null_every=5)(0, 20) == whole
    assert generator_source(ALL, seed=43, null_every=5)(0, 20) != whole
    assert whole[0][0] == 1 and whole[19][0] == 20
    assert all(v is None for v in whole[4][1:])  # every 5th row of nullable columns is NULL
    assert whole[0][10] is None  # the NULL column
    decoded = client_decode(ALL, whole)
    assert len(decoded) == 20 and decoded[3][0] == 4
    assert mix(1, 2, 3) == mix(1, 2, 3) != mix(1, 2, 4)
    assert generated_value(Column("x", "LONG", nullable=False), 1, 4, 1, null_every=5) is not None


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

VALUES = {
    "LONG": st.integers(-2**63, 2**63 - 1),
    "INTEGER": st.integers(-2**31, 2**31 - 1),
    "DOUBLE": st.floats(allow_nan=False),
    "STRING": st.text(max_size=20),
    "BOOLEAN": st.booleans(),
    "DATE": st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
    "DECIMAL128": st.decimals(min_value=-10**20, max_value=10**20, places=2, allow_nan=False, allow_infinity=False),
}
EXPECT = {"DATE": lambda d: d.isoformat()}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_rows_round_trip_through_the_client(data):
    types = data.draw(st.lists(st.sampled_from(sorted(VALUES)), min_size=1, max_size=5))
    columns = make_columns([(f"c{i}", t) for i, t in enumerate(types)])
    rows = data.draw(st.lists(st.tuples(*[st.none() | VALUES[t] for t in types]), min_size=1, max_size=8))
    decoded = client_decode(columns, rows)
    expected = [[None if v is None else EXPECT.get(t, lambda x: x)(v) for v, t in zip(row, types)] for row in rows]
    assert decoded == expected
