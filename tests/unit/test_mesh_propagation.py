"""W3C Trace Context (and B3/Jaeger) propagation, following the cases of the w3c/trace-context suite."""

import pytest

from mocktools.mesh.propagation import (
    FLAG_RANDOM,
    FLAG_SAMPLED,
    MAX_TRACESTATE_MEMBERS,
    TraceContext,
    TraceContextError,
    child_context,
    extract,
    format_tracestate,
    inject,
    new_context,
    parse_traceparent,
    parse_tracestate,
)

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
PID = "00f067aa0ba902b7"
TP = f"00-{TID}-{PID}-01"


def test_valid_traceparent_parses():
    assert parse_traceparent(TP) == (TID, PID, 1)
    assert parse_traceparent(f" \t{TP}\t ") == (TID, PID, 1)  # OWS stripped


@pytest.mark.parametrize("value", [
    f"ff-{TID}-{PID}-01",                      # version ff forbidden
    f"0x-{TID}-{PID}-01",                      # illegal version chars
    f"00-{TID}-{PID}-01-extra",                # v00 too long
    f"00-{TID}-{PID}-01.",                     # v00 trailing char
    f"00-{TID}-{PID}-1",                       # too short
    f"00-{'0' * 32}-{PID}-01",                 # zero trace id
    f"00-{TID}-{'0' * 16}-01",                 # zero parent id
    f"00-{TID.upper()}-{PID}-01",              # upper-case hex
    f"00-{TID}-{PID.upper()}-01",
    f"00-{TID}-{PID}-0g",                      # illegal flags
    f"00-{TID[:-1]}x-{PID}-01",
    f"00_{TID}_{PID}_01",                      # wrong separators
    f"cc-{TID}-{PID}-01.what-the-future",      # future version must continue with '-'
    f"00-{TID}-{PID}-01"[:-2] + "zz",
    "",
])
def test_invalid_traceparent_rejected(value):
    with pytest.raises(TraceContextError):
        parse_traceparent(value)


def test_future_version_parsed_leniently_and_reemitted_as_00():
    tid, pid, flags = parse_traceparent(f"cc-{TID}-{PID}-09-what-the-future-will-be-like")
    assert (tid, pid) == (TID, PID)
    assert flags == FLAG_SAMPLED  # unknown flag bits dropped
    assert TraceContext(tid, pid, flags).traceparent == f"00-{TID}-{PID}-01"


def test_extract_header_names_case_insensitive():
    for name in ("traceparent", "TraceParent", "TRACEPARENT"):
        got = extract({name: TP})
        assert got.context is not None and got.context.trace_id == TID and got.error is None
    assert extract({"trace-parent": TP}).context is None  # a different header


def test_extract_duplicate_traceparent_restarts():
    got = extract([("traceparent", TP), ("traceparent", f"00-{TID}-{'1' * 16}-01")])
    assert got.context is None and got.restarted and "more than one" in got.error
    combined = extract({"traceparent": TP + "," + TP})  # what a WSGI server gives for two lines
    assert combined.context is None and combined.restarted


def test_extract_invalid_parent_drops_tracestate_and_records_why():
    got = extract({"traceparent": f"00-{'0' * 32}-{PID}-01", "tracestate": "foo=1"})
    assert got.context is None and got.restarted and got.context_lost
    assert "all zeros" in got.error and got.tracestate_error
    assert got.raw["traceparent"].startswith("00-")


def test_tracestate_without_traceparent_is_discarded():
    got = extract({"tracestate": "foo=1"})
    assert got.context is None and not got.restarted and got.tracestate_error


def test_no_context_is_not_an_error():
    got = extract({})
    assert got.context is None and got.error is None and not got.context_lost


def test_tracestate_parsing_rules():
    assert parse_tracestate("foo=1, bar=2 ,,\tbaz=3\t") == (("foo", "1"), ("bar", "2"), ("baz", "3"))
    assert parse_tracestate(["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]) == (
        ("foo", "1"), ("bar", "2"), ("rojo", "1"), ("congo", "2"), ("baz", "3"))
    assert parse_tracestate("foo=1,foo=2") == (("foo", "1"),)  # first kept
    for key in ("foo@", "foo@@bar", "t@vvv", "0abc", "a_b-c*d/e"):
        assert parse_tracestate(f"{key}=v")[0][0] == key
    assert parse_tracestate("k=" + "a" * 256)[0][1] == "a" * 256
    assert parse_tracestate("k= leading")[0][1] == " leading"
    assert parse_tracestate("a" * 256 + "=1")


@pytest.mark.parametrize("value", [
    "@foo=1", "FOO=1", "foo.bar=1", "foo =1", "foo=", "foo=bar=baz", "foo", "foo=a,b",
    "a" * 257 + "=1", "k=" + "a" * 257, ",".join(f"k{i}=1" for i in range(33)), "foo=\x7f",
])
def test_invalid_tracestate_rejected(value):
    with pytest.raises(TraceContextError):
        parse_tracestate(value)


def test_invalid_tracestate_dropped_whole_parent_kept():
    got = extract({"traceparent": TP, "tracestate": "foo=1,BAD=2"})
    assert got.context is not None and got.context.tracestate == () and got.tracestate_error
    assert not got.restarted and got.context_lost


def test_32_members_accepted():
    members = ",".join(f"k{i}=1" for i in range(MAX_TRACESTATE_MEMBERS))
    got = extract({"traceparent": TP, "tracestate": members})
    assert len(got.context.tracestate) == 32


def test_child_keeps_trace_and_flags_with_new_span():
    parent = TraceContext(TID, PID, FLAG_SAMPLED | FLAG_RANDOM, (("foo", "1"),))
    kids = {child_context(parent).span_id for _ in range(50)}
    assert len(kids) == 50 and PID not in kids
    c = child_context(parent)
    assert c.trace_id == TID and c.flags == 3 and c.tracestate == (("foo", "1"),)
    assert child_context(parent, sampled=False).flags == FLAG_RANDOM
    assert child_context(TraceContext(TID, PID, 0), sampled=True).sampled


def test_new_trace_when_no_parent():
    c = child_context(None)
    assert len(c.trace_id) == 32 and len(c.span_id) == 16 and c.flags == FLAG_SAMPLED | FLAG_RANDOM
    assert not child_context(None, sampled=False).sampled
    assert new_context().trace_id != new_context().trace_id


def test_inject_formats():
    ctx = TraceContext(TID, PID, 1, (("foo", "1"), ("bar", "2")))
    h = inject(ctx, formats=("w3c", "b3", "b3multi", "jaeger"))
    assert h["traceparent"] == TP and h["tracestate"] == "foo=1,bar=2"
    assert h["b3"] == f"{TID}-{PID}-1"
    assert h["X-B3-TraceId"] == TID and h["X-B3-SpanId"] == PID and h["X-B3-Sampled"] == "1"
    assert h["uber-trace-id"] == f"{TID}:{PID}:0:1"
    assert "tracestate" not in inject(TraceContext(TID, PID))
    with pytest.raises(ValueError):
        inject(ctx, formats=("zipkin-v9",))
    # round trip through extract
    assert extract(inject(ctx)).context == ctx


def test_with_tracestate_moves_left_and_caps():
    ctx = TraceContext(TID, PID, 1, tuple((f"k{i}", "1") for i in range(32)))
    updated = ctx.with_tracestate("k5", "9")
    assert updated.tracestate[0] == ("k5", "9") and len(updated.tracestate) == 32
    added = ctx.with_tracestate("mesh", "x")
    assert added.tracestate[0] == ("mesh", "x") and added.tracestate[-1] == ("k30", "1")
    with pytest.raises(TraceContextError):
        ctx.with_tracestate("BAD", "x")


def test_format_tracestate_truncates_long_entries_first():
    members = [("a", "1"), ("big", "x" * 200), *[(f"k{i:02d}", "y" * 40) for i in range(12)]]
    out = format_tracestate(members)
    assert len(out) <= 512 and "big=" not in out and out.startswith("a=1,k00=")


def test_b3_single_and_multi():
    span = "e457b5a2e4d86bd1"
    got = extract({"b3": f"80f198ee56343ba864fe8b2a57d3eff7-{span}-1-05e3ac9a4f6e3b90"}, b3=True)
    assert got.source == "b3" and got.context.span_id == span and got.context.sampled
    short = extract({"b3": f"64fe8b2a57d3eff7-{span}-0"}, b3=True)
    assert short.context.trace_id == "0" * 16 + "64fe8b2a57d3eff7" and not short.context.sampled
    assert extract({"b3": "1"}, b3=True).context is None
    multi = extract({"X-B3-TraceId": "64fe8b2a57d3eff7", "X-B3-SpanId": span, "X-B3-Sampled": "0"}, b3=True)
    assert multi.source == "b3multi" and not multi.context.sampled
    debug = extract({"X-B3-TraceId": "64fe8b2a57d3eff7", "X-B3-SpanId": span, "X-B3-Sampled": "0",
                     "X-B3-Flags": "1"}, b3=True)
    assert debug.context.sampled
    # b3 ignored unless enabled; W3C wins when valid
    assert extract({"b3": f"{TID}-{span}-1"}).context is None
    assert extract({"traceparent": TP, "b3": f"{TID}-{span}-1"}, b3=True).source == "w3c"


@pytest.mark.parametrize("headers", [
    {"b3": "zz-e457b5a2e4d86bd1-1"}, {"b3": f"{TID}-short"}, {"b3": f"{TID}-e457b5a2e4d86bd1-x"},
    {"b3": f"{TID}-e457b5a2e4d86bd1-1-bad"}, {"b3": f"{'0' * 32}-e457b5a2e4d86bd1"},
    {"X-B3-TraceId": TID, "X-B3-SpanId": "nothex!!nothex!!"}, {"X-B3-TraceId": TID},
])
def test_b3_invalid_recorded(headers):
    got = extract(headers, b3=True)
    assert got.context is None and got.error


def test_jaeger():
    got = extract({"uber-trace-id": f"{TID}%3A{PID}%3A0%3A1"}, jaeger=True)
    assert got.source == "jaeger" and got.context.trace_id == TID and got.context.sampled
    assert extract({"uber-trace-id": f"abc:{PID}:0:0"}, jaeger=True).context.trace_id.endswith("abc")
    for bad in (f"{TID}:{PID}:0", f"{TID}:{PID}:0:zz", f"0:{PID}:0:1", f"{TID}:{'0' * 16}:0:1"):
        got = extract({"uber-trace-id": bad}, jaeger=True)
        assert got.context is None and got.error
    assert extract({}, jaeger=True).context is None


def test_invalid_w3c_falls_back_to_valid_b3():
    got = extract({"traceparent": "garbage", "b3": f"{TID}-e457b5a2e4d86bd1-1"}, b3=True)
    assert got.source == "b3" and got.context.trace_id == TID
