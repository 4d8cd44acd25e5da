"""Unit tests of the OTLP codec: decompression, protobuf/OTLP-JSON decoding, response encoding."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
from google.rpc import status_pb2

from mocktools.otlp import codec, samples
from mocktools.otlp.codec import SIGNALS, CodecError

TID = "5b8efff798038103d269b633813fc60c"
SID = "eee19b7ec3c1b174"
SPEC_BODY = (
    '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},'
    '"scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",'
    '"spanId":"eee19b7ec3c1b174","name":"op","kind":2,"startTimeUnixNano":"1544712660000000000",'
    '"endTimeUnixNano":"1544712661000000000"}]}]}]}'
)


def test_media_type_and_encoding() -> None:
    assert codec.media_type("Application/JSON; charset=utf-8") == "application/json"
    assert codec.encoding_of("application/x-protobuf") == "protobuf"
    assert codec.encoding_of("application/json;charset=utf-8") == "json"
    assert codec.encoding_of("text/plain") is None
    assert codec.encoding_of(None) is None


@pytest.mark.parametrize("enc", ["", "identity", None])
def test_decompress_identity(enc: str | None) -> None:
    assert codec.decompress(b"abc", enc, 10) == b"abc"


def test_decompress_gzip_and_deflate_variants() -> None:
    data = b"x" * 1000
    assert codec.decompress(gzip.compress(data), "gzip", 2000) == data
    assert codec.decompress(gzip.compress(data), "GZIP", 2000) == data
    assert codec.decompress(zlib.compress(data), "deflate", 2000) == data
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw.compress(data) + raw.flush()
    assert codec.decompress(raw_body, "deflate", 2000) == data


def test_decompress_errors() -> None:
    with pytest.raises(CodecError) as bad:
        codec.decompress(b"not gzip", "gzip", 100)
    assert bad.value.status == 400 and "gzip" in str(bad.value)
    with pytest.raises(CodecError) as bad_deflate:
        codec.decompress(b"not deflate at all", "deflate", 100)
    assert bad_deflate.value.status == 400
    with pytest.raises(CodecError) as truncated:
        codec.decompress(gzip.compress(b"y" * 100)[:-12], "gzip", 1000)
    assert truncated.value.status == 400 and "truncated" in str(truncated.value)
    with pytest.raises(CodecError) as unsupported:
        codec.decompress(b"abc", "br", 100)
    assert unsupported.value.status == 415


def test_gzip_bomb_is_413_without_inflating_everything() -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(CodecError) as exc:
        codec.decompress(bomb, "gzip", 1000)
    assert exc.value.status == 413
    with pytest.raises(CodecError) as plain:
        codec.decompress(b"z" * 2000, None, 1000)
    assert plain.value.status == 413


def test_parse_protobuf_roundtrip() -> None:
    req = samples.batch_of_spans(3)
    parsed = codec.parse_request(SIGNALS["traces"], req.SerializeToString(), "protobuf")
    assert parsed == req


def test_parse_protobuf_garbage_is_400() -> None:
    with pytest.raises(CodecError) as exc:
        codec.parse_request(SIGNALS["traces"], b"\xff\xff\xff\xff garbage", "protobuf")
    assert exc.value.status == 400 and "ExportTraceServiceRequest" in str(exc.value)


def test_parse_spec_json_example_with_hex_ids() -> None:
    msg = codec.parse_request(SIGNALS["traces"], SPEC_BODY.encode(), "json")
    span = msg.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == TID
    assert span.span_id.hex() == SID
    assert span.kind == 2
    assert span.start_time_unix_nano == 1544712660000000000


def test_parse_json_accepts_numbers_uppercase_hex_unknown_fields_and_empty_parent() -> None:
    doc = {
        "resourceSpans": [
            {
                "futureField": {"x": 1},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TID.upper(),
                                "spanId": SID,
                                "parentSpanId": "",
                                "name": "n",
                                "startTimeUnixNano": 5,
                                "links": [{"traceId": TID, "spanId": SID}],
                                "attributes": [{"key": "b", "value": {"bytesValue": base64.b64encode(b"hi").decode()}}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    msg = codec.parse_request(SIGNALS["traces"], json.dumps(doc).encode(), "json")
    span = msg.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == TID
    assert span.parent_span_id == b""
    assert span.links[0].span_id.hex() == SID
    assert span.attributes[0].value.bytes_value == b"hi"  # bytesValue stays base64 per the spec


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "must be an object"),
        (b"\xff\xfe", "malformed JSON"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(), "hex"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "abcd"}]}]}]}).encode(), "16 hex"),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "abc"}]}]}]}).encode(), "invalid OTLP"),
        (json.dumps({"resourceSpans": 7}).encode(), "invalid OTLP"),
    ],
)
def test_parse_json_errors(body: bytes, fragment: str) -> None:
    with pytest.raises(CodecError) as exc:
        codec.parse_request(SIGNALS["traces"], body, "json")
    assert exc.value.status == 400
    assert fragment in str(exc.value)


def test_message_to_otlp_json_uses_hex_ids_and_integer_enums_and_roundtrips() -> None:
    req = samples.batch_of_spans(2)
    doc = codec.message_to_otlp_json(req)
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    assert span["traceId"] == req.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert len(span["parentSpanId"]) == 16
    assert span["kind"] == 3
    assert isinstance(span["startTimeUnixNano"], str)
    again = codec.parse_request(SIGNALS["traces"], json.dumps(doc).encode(), "json")
    assert again == req


def test_logs_and_metrics_json_roundtrip() -> None:
    logs = samples.logs_request(["hello", {"k": [1, 2.5, True]}])
    logs.resource_logs[0].scope_logs[0].log_records[0].trace_id = bytes.fromhex(TID)
    doc = codec.message_to_otlp_json(logs)
    assert doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["traceId"] == TID
    assert codec.parse_request(SIGNALS["logs"], json.dumps(doc).encode(), "json") == logs
    metrics = samples.metrics_request({"a": 1, "b": 2.5})
    doc = codec.message_to_otlp_json(metrics)
    assert codec.parse_request(SIGNALS["metrics"], json.dumps(doc).encode(), "json") == metrics


def test_export_response_and_partial_success_encodings() -> None:
    sig = SIGNALS["traces"]
    assert codec.encode_message(codec.export_response(sig), "protobuf") == b""
    assert codec.encode_message(codec.export_response(sig), "json") == b"{}"
    partial = codec.export_response(sig, 3, "too many")
    decoded = sig.response_cls.FromString(codec.encode_message(partial, "protobuf"))
    assert decoded.partial_success.rejected_spans == 3
    assert json.loads(codec.encode_message(partial, "json")) == {
        "partialSuccess": {"rejectedSpans": "3", "errorMessage": "too many"}
    }
    warning = codec.export_response(SIGNALS["logs"], 0, "just a warning")
    assert warning.HasField("partial_success")
    metrics = codec.export_response(SIGNALS["metrics"], 2, "m")
    assert metrics.partial_success.rejected_data_points == 2


def test_status_body_in_both_encodings() -> None:
    body = codec.status_body(400, "bad thing", "protobuf")
    status = status_pb2.Status.FromString(body)
    assert status.code == 3 and status.message == "bad thing"
    assert json.loads(codec.status_body(503, "busy", "json")) == {"code": 14, "message": "busy"}
    assert codec.grpc_code_for_http(500) == 13
    assert codec.grpc_code_for_http(418) == 2
    assert codec.grpc_code_for_http(429) == 8


def test_compress_helper() -> None:
    assert gzip.decompress(codec.compress(b"abc", "gzip")) == b"abc"
    assert zlib.decompress(codec.compress(b"abc", "deflate")) == b"abc"
    assert codec.compress(b"abc", "identity") == b"abc"


def test_deeply_nested_json_is_a_400_not_a_crash() -> None:
    deep_list = b"[" * 100_000 + b"]" * 100_000
    deep_obj = ('{"resourceSpans":[' + '{"x":' * 50_000 + "1" + "}" * 50_000 + "]}").encode()
    level = '{"kvlistValue":{"values":[{"key":"k","value":'
    deep_any = level * 200 + "{}" + "}]}}" * 200
    deep_attr = ('{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":' + deep_any + "}]}}]}").encode()
    json.loads(deep_attr)  # valid JSON, just too deep for an OTLP message
    for body in (deep_list, deep_obj, deep_attr):
        with pytest.raises(CodecError) as exc:
            codec.parse_request(SIGNALS["traces"], body, "json")
        assert exc.value.status == 400
