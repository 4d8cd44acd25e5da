"""Structured outputs: response_format, structured_outputs, parse(), invalid schemas streamed and not."""
import json
import re

import jsonschema
import openai
import pydantic
import pytest
import requests


# mock_vllm (the pytest plugin), a fresh mock per test configured so
pytestmark = pytest.mark.mocktools(vllm={"seed": 5})

ASK = [{"role": "user", "content": "Describe a city as JSON."}]
CITY = {"type": "object", "properties": {"name": {"type": "string"}, "population": {"type": "integer", "minimum": 0},
                                         "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                                         "founded": {"type": "string", "format": "date"}},
        "required": ["name", "population", "tags"], "additionalProperties": False}


class City(pydantic.BaseModel):
    name: str
    population: int
    coastal: bool
    districts: list[str]


def _post(mock, **body):
    return requests.post(mock.url + "/v1/chat/completions", json={"messages": ASK, **body}, timeout=10)


def test_json_schema_output_validates_and_is_deterministic(vllm_client, mock_vllm):
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "strict": True}}
    a = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, response_format=fmt, seed=3)
    value = json.loads(a.choices[0].message.content)
    jsonschema.validate(value, CITY, format_checker=jsonschema.FormatChecker())
    b = vllm_client.chat.completions.create(model="mock-llm", messages=ASK, response_format=fmt, seed=3)
    assert b.choices[0].message.content == a.choices[0].message.content
    assert mock_vllm.received_requests[-1]["format"] == {"kind": "json", "source": "response_format"}


def test_parse_with_pydantic_model(vllm_client):
    r = vllm_client.chat.completions.parse(model="mock-llm", messages=ASK, response_format=City)
    city = r.choices[0].message.parsed
    assert isinstance(city, City) and isinstance(city.districts, list)


def test_json_object_regex_choice_grammar(mock_vllm):
    obj = _post(mock_vllm, response_format={"type": "json_object"}).json()
    assert isinstance(json.loads(obj["choices"][0]["message"]["content"]), dict)
    rx = r"[A-Z]{2}-\d{3,5}(-[a-z]+)?"
    out = _post(mock_vllm, structured_outputs={"regex": rx}).json()["choices"][0]["message"]["content"]
    assert re.fullmatch(rx, out)
    pick = _post(mock_vllm, structured_outputs={"choice": ["yes", "no"]}).json()["choices"][0]["message"]["content"]
    assert pick in ("yes", "no")
    gram = _post(mock_vllm, structured_outputs={"grammar": 'root ::= "red" | "green"'}).json()
    assert gram["choices"][0]["message"]["content"] in ("red", "green")
    as_text = _post(mock_vllm, structured_outputs={"json": json.dumps(CITY)}).json()["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(as_text), CITY)


def test_removed_guided_fields_are_ignored(mock_vllm):
    r = _post(mock_vllm, guided_json=CITY, guided_choice=["a"])
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("body, fragment, etype", [
    ({"response_format": {"type": "json_schema"}},
     "When response_format type is 'json_schema', the 'json_schema' field must be provided.", "BadRequestError"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": CITY}}}, "Field required",
     "Bad Request"),
    ({"structured_outputs": {}}, "You must use one kind of structured outputs constraint", "BadRequestError"),
    ({"structured_outputs": {"regex": "a", "choice": ["a"]}}, "You can only use one kind", "BadRequestError"),
    ({"response_format": {"type": "json_object"}, "structured_outputs": {"regex": "a"}}, "You can only use one kind",
     "BadRequestError"),
])
def test_request_validation_errors(mock_vllm, body, fragment, etype):
    r = _post(mock_vllm, **body)
    assert r.status_code == 400 and fragment in r.json()["error"]["message"] and r.json()["error"]["type"] == etype


@pytest.mark.parametrize("so, message", [
    ({"json": "{not json"}, "Invalid JSON grammar specification."),
    ({"json": {"type": "object", "properties": {"a": {"type": 12}}}},
     "Failed to transform json schema into a grammar:"),
    ({"regex": "([a-z"}, "Failed to transform regex into a grammar:"),
    ({"grammar": "  "}, "Invalid grammar specification."),
])
def test_invalid_constraints_non_stream_400_stream_error_event(mock_vllm, vllm_client, so, message):
    r = _post(mock_vllm, structured_outputs=so)
    assert r.status_code == 400 and r.json()["error"]["message"].startswith(message)
    assert r.json()["error"]["type"] == "BadRequestError" and r.json()["error"]["code"] == 400
    s = _post(mock_vllm, structured_outputs=so, stream=True)
    assert s.status_code == 200
    events = [e for e in s.content.decode().split("\n\n") if e]
    assert len(events) == 2 and events[1] == "data: [DONE]"
    err = json.loads(events[0][6:])["error"]
    assert err["message"].startswith(message) and err["type"] == "BadRequestError" and err["param"] is None
    with pytest.raises(openai.APIError, match=re.escape(message[:20])):
        list(vllm_client.chat.completions.create(model="mock-llm", messages=ASK, stream=True,
                                            extra_body={"structured_outputs": so}))


def test_streamed_json_schema_reassembles(vllm_client):
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}
    text = "".join(c.choices[0].delta.content or "" for c in vllm_client.chat.completions.create(
        model="mock-llm", messages=ASK, response_format=fmt, stream=True) if c.choices)
    jsonschema.validate(json.loads(text), CITY)


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_vllm_json_schema_gen import SCHEMAS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SCHEMAS, st.integers(0, 1000))
def test_hypothesis_schemas_through_the_server(mock_vllm, schema, seed):
    """response_format and tool arguments over the wire validate against any generated schema."""
    fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    r = requests.post(mock_vllm.url + "/v1/chat/completions", json={"messages": ASK, "response_format": fmt,
                                                                 "seed": seed}, timeout=10)
    assert r.status_code == 200, r.text
    jsonschema.validate(json.loads(r.json()["choices"][0]["message"]["content"]), schema,
                        format_checker=jsonschema.FormatChecker())


def test_completions_honour_structured_outputs(mock_vllm):
    url = mock_vllm.url + "/v1/completions"
    r = requests.post(url, json={"prompt": "Pick:", "structured_outputs": {"choice": ["left", "right"]}}).json()
    assert r["choices"][0]["text"] in ("left", "right")
    j = requests.post(url, json={"prompt": "JSON:", "response_format": {"type": "json_schema", "json_schema": {
        "name": "c", "schema": CITY}}}).json()
    jsonschema.validate(json.loads(j["choices"][0]["text"]), CITY)
    bad = requests.post(url, json={"prompt": "x", "structured_outputs": {"regex": "(("}})
    assert bad.status_code == 400 and "Failed to transform regex" in bad.json()["error"]["message"]
