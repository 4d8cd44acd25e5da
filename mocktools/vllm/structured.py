"""Structured outputs: ``response_format`` and vLLM's ``structured_outputs``, validated with vLLM's
400s and honoured by generating text that satisfies the constraint.

Honoured exactly: ``json`` / ``json_schema`` (a value built from the schema and checked with
``jsonschema``), ``json_object``, ``regex`` (a string of the pattern's language, checked with
``re.fullmatch``), ``choice``. Approximated (documented in docs/vllm.md): ``grammar`` (only a root
rule of quoted alternatives is honoured; otherwise the grammar is checked for being non-empty
and the reply is unconstrained text) and ``structural_tag`` (shape checked, output unconstrained).
Errors a real engine raises only when it compiles the constraint are *deferred*: a non-stream
request answers 400, a stream answers 200 with an error event (see Engine.stream).
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..errors import ApiError
from . import json_schema_gen, regex_gen
from .protocol import bad_request
from .tokenizer import WORDS
from .tools import ToolConfig, schema_error

KINDS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")
OPTIONS = ("disable_any_whitespace", "disable_additional_properties", "whitespace_pattern", "disable_fallback")


@dataclass
class Constraint:
    kind: str
    spec: Any
    source: str  # "response_format" or "structured_outputs"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source}


def from_response_format(fmt: Any, loc: str = "response_format") -> Constraint | None:
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or not isinstance(fmt.get("type"), str):
        raise schema_error("Input should be an object with a 'type'", loc)
    kind = fmt["type"]
    if kind == "text":
        return None
    if kind == "json_object":
        return Constraint("json_object", True, "response_format")
    if kind == "json_schema":
        js = fmt.get("json_schema")
        if js is None:
            raise bad_request("When response_format type is 'json_schema', the 'json_schema' field must be "
                              "provided.", loc)
        if not isinstance(js, dict):
            raise schema_error("Input should be a valid dictionary", loc + ".json_schema")
        if not isinstance(js.get("name"), str):
            raise schema_error("Field required", loc + ".json_schema.name")
        schema = js.get("schema")
        return Constraint("json", schema, "response_format") if schema is not None \
            else Constraint("json_object", True, "response_format")
    if kind == "structural_tag":
        if not (isinstance(fmt.get("format"), dict) or isinstance(fmt.get("structures"), list)):
            raise bad_request("Invalid response_format structural_tag specification.", loc)
        return Constraint("structural_tag", fmt, "response_format")
    raise schema_error("Input should be 'text', 'json_object', 'json_schema' or 'structural_tag'", loc + ".type")


def from_structured_outputs(so: Any) -> Constraint | None:
    if so is None:
        return None
    if not isinstance(so, dict):
        raise schema_error("Input should be a valid dictionary", "structured_outputs")
    unknown = set(so) - set(KINDS) - set(OPTIONS)
    if unknown:
        raise schema_error(f"Extra inputs are not permitted: {sorted(unknown)}", "structured_outputs")
    given = [k for k in KINDS if so.get(k) not in (None, False)]
    if not given:
        raise bad_request("You must use one kind of structured outputs constraint but none are specified: "
                          f"{json.dumps(so)}")
    if len(given) > 1:
        raise bad_request("You can only use one kind of structured outputs constraint but multiple are "
                          f"specified: {json.dumps(so)}")
    return Constraint(given[0], so[given[0]], "structured_outputs")


def parse_chat(body: dict, tools: ToolConfig) -> Constraint | None:
    """The one constraint of a chat request (None: free text), with vLLM's merge rules."""
    rf = from_response_format(body.get("response_format"))
    so = from_structured_outputs(body.get("structured_outputs"))
    if rf is not None and so is not None and rf.kind != so.kind:
        raise bad_request("You can only use one kind of structured outputs constraint but multiple are "
                          f"specified: {rf.kind}, {so.kind}")
    if tools.choice == "named" and so is not None and so.kind in ("json", "regex", "choice"):
        raise bad_request("You can only either use constraints for structured outputs or tools, not both.")
    if tools.choice in ("required", "named"):
        return None  # the tool constraint wins; response_format is dropped
    return rf or so


def compile_error(c: Constraint) -> ApiError | None:
    """What the engine says when it cannot compile the constraint (None: fine)."""
    if c.kind == "json":
        spec = c.spec
        if isinstance(spec, str):
            try:
                spec = json.loads(spec)
            except ValueError:
                return bad_request("Invalid JSON grammar specification.")
            c.spec = spec
        try:
            json_schema_gen.check_schema(spec)
        except jsonschema.SchemaError as exc:
            return bad_request(f"Failed to transform json schema into a grammar: {exc.message}")
    elif c.kind == "regex":
        if not isinstance(c.spec, str):
            return bad_request("Failed to transform regex into a grammar: the regex must be a string")
        try:
            re.compile(c.spec)
        except re.error as exc:
            return bad_request(f"Failed to transform regex into a grammar: {exc}")
    elif c.kind == "choice":
        if not isinstance(c.spec, list) or not c.spec or not all(isinstance(s, str) for s in c.spec):
            return bad_request("Invalid choice specification: a non-empty list of strings is required.")
    elif c.kind == "grammar":
        if not isinstance(c.spec, str) or not c.spec.strip():
            return bad_request("Invalid grammar specification.")
    elif c.kind == "structural_tag" and c.source == "structured_outputs":
        try:
            json.loads(c.spec) if isinstance(c.spec, str) else None
        except ValueError:
            return bad_request("Invalid structural_tag specification.")
    return None


_ROOT_ALTS = re.compile(r'^\s*root\s*(?:::=|:)\s*((?:"(?:[^"\\]|\\.)*"\s*\|?\s*)+)$', re.MULTILINE)


def generate(c: Constraint, rng: random.Random) -> str | None:
    """Text satisfying the constraint, or None where the mock does not constrain (grammar, structural tag)."""
    if c.kind == "json":
        try:
            return json.dumps(json_schema_gen.generate(c.spec, rng), ensure_ascii=False)
        except json_schema_gen.SchemaUnsatisfiable as exc:
            raise ApiError(400, f"Failed to transform json schema into a grammar: {exc}",
                           type="BadRequestError") from None
    if c.kind == "json_object":
        keys = rng.sample(WORDS[:60], rng.randint(1, 3))
        return json.dumps({k: " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) for k in keys})
    if c.kind == "regex":
        try:
            return regex_gen.generate(c.spec, rng)
        except regex_gen.RegexUnsupported as exc:
            raise ApiError(400, f"Failed to transform regex into a grammar: {exc}", type="BadRequestError") \
                from None
    if c.kind == "choice":
        return str(rng.choice(c.spec))
    if c.kind == "grammar":
        m = _ROOT_ALTS.search(c.spec)
        if m:
            alts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))
            if alts:
                return json.loads(f'"{rng.choice(alts)}"')
    return None
