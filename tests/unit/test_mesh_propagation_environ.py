"""extract_environ (what a mesh hop uses) gives exactly what extract(request.headers) gives."""

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mocktools.mesh.propagation import extract, extract_environ

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
PID = "00f067aa0ba902b7"
TP = f"00-{TID}-{PID}-01"

CASES = [
    {},
    {"traceparent": TP},
    {"TraceParent": TP, "tracestate": "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"},
    {"traceparent": f"{TP},{TP}"},  # two lines, as an engine joins them
    {"traceparent": "bad", "tracestate": "a=1"},
    {"tracestate": "a=1"},
    {"traceparent": TP, "tracestate": "A=1"},
    {"traceparent": f"cc-{TID}-{PID}-01-what-the-future-will-be-like"},
    {"b3": f"{TID}-{PID}-1"},
    {"b3": "0"},
    {"b3": "nonsense"},
    {"X-B3-TraceId": TID[:16], "X-B3-SpanId": PID, "X-B3-Sampled": "0"},
    {"X-B3-TraceId": TID, "X-B3-SpanId": PID, "X-B3-Flags": "1"},
    {"uber-trace-id": f"{TID}%3A{PID}%3A0%3A1"},
    {"uber-trace-id": "1:2:3"},
    {"traceparent": "bad", "b3": f"{TID}-{PID}-1", "uber-trace-id": f"{TID}:{PID}:0:1"},
    {"traceparent": TP, "X-Other": "x", "Content-Type": "text/plain"},
]


@pytest.mark.parametrize("headers", CASES)
@pytest.mark.parametrize("b3,jaeger", [(False, False), (True, True), (True, False)])
def test_extract_environ_matches_extract_on_the_headers_view(headers, b3, jaeger):
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    assert extract_environ(environ, b3=b3, jaeger=jaeger) == extract(Request(environ).headers, b3=b3, jaeger=jaeger)


def test_ids_are_hex_non_zero_distinct_and_immune_to_random_seed():
    import random

    from mocktools.mesh.propagation import new_span_id, new_trace_id

    random.seed(1)
    first = [new_trace_id() for _ in range(3)]
    random.seed(1)
    again = [new_trace_id() for _ in range(3)]
    assert len(set(first + again)) == 6  # a test's random.seed() does not replay trace ids
    spans = {new_span_id() for _ in range(1000)}
    assert len(spans) == 1000 and all(len(s) == 16 and int(s, 16) for s in spans)
    assert all(len(t) == 32 and int(t, 16) for t in first)
