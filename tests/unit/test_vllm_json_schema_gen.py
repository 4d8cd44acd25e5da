"""Generated JSON always validates: hypothesis-generated schemas checked with the jsonschema library."""
import random
import re

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocktools.vllm import json_schema_gen, regex_gen
from mocktools.vllm.structured import Constraint, generate

NAMES = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


def _leaf():
    return st.one_of(
        st.just({"type": "boolean"}), st.just({"type": "null"}),
        st.builds(lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
                  st.integers(-50, 50), st.integers(0, 100)),
        st.builds(lambda lo, span, step: {"type": "number", "minimum": lo, "maximum": lo + span, **step},
                  st.integers(-50, 50), st.integers(1, 100), st.sampled_from([{}, {"multipleOf": 0.5}])),
        st.builds(lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra},
                  st.integers(0, 10), st.integers(0, 20)),
        st.sampled_from([{"type": "string", "format": f} for f in ("date", "date-time", "email", "uuid", "ipv4")]),
        st.builds(lambda vals: {"enum": vals}, st.lists(st.one_of(st.integers(), NAMES), min_size=1,
                                                        max_size=4, unique=True)),
        st.sampled_from([{"type": "string", "pattern": p} for p in (r"^[a-z]{3}\d{2}$", r"^(ab|cd)+x?$")]),
        st.just({"const": "fixed"}),
    )


def _extend(children):
    return st.one_of(
        st.builds(lambda props, req_mask, extra: {
            "type": "object", "properties": props,
            "required": [k for k, r in zip(props, req_mask) if r], "additionalProperties": extra},
            st.dictionaries(NAMES, children, max_size=4), st.lists(st.booleans(), min_size=4, max_size=4),
            st.booleans()),
        st.builds(lambda items, lo, span: {"type": "array", "items": items, "minItems": lo, "maxItems": lo + span},
                  children, st.integers(0, 3), st.integers(0, 3)),
        st.builds(lambda opts: {"anyOf": opts}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda t: {**t, "type": [t["type"], "null"]}
                  if isinstance(t.get("type"), str) and t["type"] != "null" else t, children),
    )


SCHEMAS = st.recursive(_leaf(), _extend, max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(SCHEMAS, st.integers(0, 2 ** 32))
def test_generated_value_validates(schema, seed):
    value = json_schema_gen.generate(schema, random.Random(seed))
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())


@settings(max_examples=40, deadline=None)
@given(SCHEMAS, st.integers(0, 2 ** 16))
def test_same_seed_same_value(schema, seed):
    assert json_schema_gen.generate(schema, random.Random(seed)) == json_schema_gen.generate(
        schema, random.Random(seed))


def test_refs_allof_and_defs():
    schema = {"$defs": {"pt": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
              "type": "object", "properties": {"a": {"$ref": "#/$defs/pt"},
                                               "b": {"allOf": [{"$ref": "#/$defs/pt"},
                                                               {"properties": {"y": {"type": "string"}},
                                                                "required": ["y"]}]}},
              "required": ["a", "b"]}
    value = json_schema_gen.generate(schema, random.Random(1))
    jsonschema.validate(value, schema)
    assert set(value["b"]) >= {"x", "y"}


def test_invalid_and_unsatisfiable_schemas():
    with pytest.raises(jsonschema.SchemaError):
        json_schema_gen.generate({"type": "nonsense"}, random.Random(0))
    with pytest.raises(json_schema_gen.SchemaUnsatisfiable):
        json_schema_gen.generate({"allOf": [{"type": "string"}, {"type": "integer"}]}, random.Random(0))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([r"\d{3}-\d{4}", r"[A-F0-9]{8}", r"(foo|bar)baz*", r"[^,]{1,5},[a-z]+", r"\w+@\w+\.com",
                        r"(?:ab){2,3}c?", r"[-+]?\d+(\.\d+)?"]), st.integers(0, 2 ** 20))
def test_regex_generation_matches(pattern, seed):
    assert re.fullmatch(pattern, regex_gen.generate(pattern, random.Random(seed)))


def test_choice_constraint():
    assert generate(Constraint("choice", ["a", "b"], "structured_outputs"), random.Random(0)) in ("a", "b")


def test_unresolvable_ref_is_unsatisfiable_not_a_crash():
    for seed in range(4):
        with pytest.raises(json_schema_gen.SchemaUnsatisfiable):
            json_schema_gen.generate({"anyOf": [{"$ref": "#/nope"}, {"type": "string"}]}, random.Random(seed))
