"""Deterministic JSON instances generated from a JSON Schema (tool arguments, structured outputs).

What vLLM gets from constrained decoding (xgrammar / guidance), the mock gets by building a value
that satisfies the schema: required properties, types, enums/const, nested objects and arrays,
string lengths, patterns and formats, numeric bounds and ``multipleOf``, ``$ref``/``$defs``,
``anyOf``/``oneOf``/``allOf``. Each candidate is checked with the ``jsonschema`` library and
regenerated with a fresh draw when it fails, so what comes out always validates; a schema no
draw satisfies raises :class:`SchemaUnsatisfiable`.
"""
from __future__ import annotations

import random
import uuid
from typing import Any

import jsonschema
import referencing.exceptions

from . import regex_gen
from .tokenizer import WORDS

MAX_ATTEMPTS = 24
MAX_DEPTH = 12
_FORMATS = {
    "date-time": lambda r: f"20{r.randint(20, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
                           f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "date": lambda r: f"20{r.randint(20, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
    "email": lambda r: f"{r.choice(WORDS)}.{r.choice(WORDS)}@example.com",
    "uri": lambda r: f"https://example.com/{r.choice(WORDS)}/{r.randint(1, 999)}",
    "url": lambda r: f"https://example.com/{r.choice(WORDS)}",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "ipv4": lambda r: ".".join(str(r.randint(1, 254)) for _ in range(4)),
    "ipv6": lambda r: ":".join(f"{r.randint(0, 0xFFFF):x}" for _ in range(8)),
    "hostname": lambda r: f"{r.choice(WORDS)}.example.com",
    "duration": lambda r: f"PT{r.randint(1, 59)}M",
}


class SchemaUnsatisfiable(ValueError):
    """No generated candidate validates against the schema."""


def check_schema(schema: Any) -> None:
    """Raise ``jsonschema.SchemaError`` for a schema that is not a valid JSON Schema."""
    if not isinstance(schema, (dict, bool)):
        raise jsonschema.SchemaError(f"a schema must be an object or a boolean, got {type(schema).__name__}")
    jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)


def generate(schema: Any, rng: random.Random) -> Any:
    """A value valid against ``schema`` (checked with jsonschema); deterministic for one ``rng`` state."""
    check_schema(schema)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    last: Exception | None = None
    for attempt in range(MAX_ATTEMPTS):
        try:
            value = _Gen(schema, rng, thorough=attempt > 0).value(schema, 0)
        except (SchemaUnsatisfiable, regex_gen.RegexUnsupported, RecursionError) as exc:
            last = exc
            continue
        try:
            error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        except (referencing.exceptions.Unresolvable, LookupError, ValueError) as exc:
            raise SchemaUnsatisfiable(f"the schema does not resolve: {exc}") from None
        if error is None:
            return value
        last = error
    raise SchemaUnsatisfiable(f"no generated value satisfies the schema ({last})")


class _Gen:
    def __init__(self, root: Any, rng: random.Random, thorough: bool) -> None:
        self.root, self.rng, self.thorough = root, rng, thorough

    def resolve(self, schema: dict) -> dict:
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
            ref = schema["$ref"]
            if not ref.startswith("#"):
                raise SchemaUnsatisfiable(f"remote $ref {ref!r} is not supported")
            target: Any = self.root
            for part in [p for p in ref[1:].split("/") if p]:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise SchemaUnsatisfiable(f"$ref {ref!r} does not resolve")
                target = target[part]
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else target
            seen += 1
        return schema

    def value(self, schema: Any, depth: int) -> Any:
        if schema is True or schema == {}:
            return self.rng.choice(WORDS)
        if schema is False:
            raise SchemaUnsatisfiable("the schema `false` accepts nothing")
        if depth > MAX_DEPTH:
            raise SchemaUnsatisfiable("schema nests too deeply")
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return self.value(schema, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        if isinstance(schema.get("allOf"), list):
            merged = dict(schema)
            merged.pop("allOf")
            for part in schema["allOf"]:
                merged = _merge(merged, self.resolve(part) if isinstance(part, dict) else {})
            return self.value(merged, depth + 1)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                option = self.rng.choice(schema[key])
                option = self.resolve(option) if isinstance(option, dict) else option
                return self.value(_merge(base, option) if isinstance(option, dict) else option, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or ["null"]
            kind = self.rng.choice(kinds)
        if kind is None:
            kind = _infer_type(schema)
        maker = getattr(self, "_" + str(kind), None)
        if maker is None:
            raise SchemaUnsatisfiable(f"unknown type {kind!r}")
        return maker(schema, depth)

    def _null(self, schema: dict, depth: int) -> None:
        return None

    def _boolean(self, schema: dict, depth: int) -> bool:
        return self.rng.random() < 0.5

    def _integer(self, schema: dict, depth: int) -> int:
        lo, hi = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0 and float(step).is_integer():
            step = int(step)
            first = -(-lo // step) * step
            count = max(0, (hi - first) // step)
            return first + step * self.rng.randint(0, count) if first <= hi else first
        return self.rng.randint(lo, hi) if lo <= hi else lo

    def _number(self, schema: dict, depth: int) -> float | int:
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            lo, hi = _bounds(schema, integer=False)
            k_lo, k_hi = int(-(-lo // step)), int(hi // step)
            return round(step * self.rng.randint(k_lo, max(k_lo, k_hi)), 10)
        lo, hi = _bounds(schema, integer=False)
        if not self.thorough and lo <= 0 <= hi:
            lo, hi = max(lo, -100.0), min(hi, 100.0)
        return round(self.rng.uniform(lo, hi), 3) if lo < hi else lo

    def _string(self, schema: dict, depth: int) -> str:
        fmt = schema.get("format")
        if isinstance(schema.get("pattern"), str):
            return regex_gen.generate(schema["pattern"], self.rng)
        if fmt in _FORMATS:
            return _FORMATS[fmt](self.rng)
        lo = _int(schema.get("minLength"), 0)
        hi = _int(schema.get("maxLength"), max(lo, 24))
        text = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 3)))
        while len(text) < lo:
            text += " " + self.rng.choice(WORDS)
        return text[:hi] if len(text) > hi else text

    def _array(self, schema: dict, depth: int) -> list:
        prefix = schema.get("prefixItems")
        items = schema.get("items", {})
        if isinstance(items, list):  # draft-04..2019 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        lo = max(_int(schema.get("minItems"), 0), len(prefix) if prefix else 0)
        if "contains" in schema:
            lo = max(lo, _int(schema.get("minContains"), 1))
        hi = _int(schema.get("maxItems"), max(lo, 3))
        count = self.rng.randint(lo, max(lo, min(hi, lo + 3)))
        out: list = []
        for i in range(count):
            if i < len(prefix):
                sub: Any = prefix[i]
            elif "contains" in schema and i < max(1, _int(schema.get("minContains"), 1)):
                sub = schema["contains"]
            else:
                sub = items
            value = self.value(sub, depth + 1)
            if schema.get("uniqueItems") is True:
                for _ in range(8):
                    if value not in out:
                        break
                    value = self.value(sub, depth + 1)
            out.append(value)
        return out

    def _object(self, schema: dict, depth: int) -> dict:
        raw_props = schema.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        required = [r for r in schema.get("required", []) if isinstance(r, str)]
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in required or (depth < 4 and self.rng.random() < 0.5):
                out[name] = self.value(sub, depth + 1)
        extra = schema.get("additionalProperties", True)
        for name in required:
            if name not in out:
                out[name] = self.value(extra if isinstance(extra, dict) else {}, depth + 1)
        lo = _int(schema.get("minProperties"), 0)
        spare = [n for n in props if n not in out]
        while len(out) < lo:
            if spare:
                name = spare.pop(0)
                out[name] = self.value(props[name], depth + 1)
            elif extra is not False:
                out[f"{self.rng.choice(WORDS)}_{len(out)}"] = self.value(extra if isinstance(extra, dict) else {},
                                                                       depth + 1)
            else:
                break
        hi = schema.get("maxProperties")
        if isinstance(hi, int):
            for name in [n for n in out if n not in required][: max(0, len(out) - hi)]:
                del out[name]
        return out


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _bounds(schema: dict, integer: bool) -> tuple[Any, Any]:
    lo: float = -1000 if integer else -1000.0
    hi: float = 1000 if integer else 1000.0
    if isinstance(schema.get("minimum"), (int, float)):
        lo = schema["minimum"]
    if isinstance(schema.get("exclusiveMinimum"), (int, float)) and not isinstance(schema["exclusiveMinimum"], bool):
        lo = max(lo, schema["exclusiveMinimum"] + (1 if integer else 1e-3))
    if isinstance(schema.get("maximum"), (int, float)):
        hi = schema["maximum"]
    if isinstance(schema.get("exclusiveMaximum"), (int, float)) and not isinstance(schema["exclusiveMaximum"], bool):
        hi = min(hi, schema["exclusiveMaximum"] - (1 if integer else 1e-3))
    if "minimum" in schema and "maximum" not in schema and "exclusiveMaximum" not in schema:
        hi = lo + 1000
    if "maximum" in schema and "minimum" not in schema and "exclusiveMinimum" not in schema:
        lo = hi - 1000
    if integer:
        import math
        return math.ceil(lo), math.floor(hi)
    return float(lo), float(hi)


def _infer_type(schema: dict) -> str:
    if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minLength", "maxLength", "pattern", "format")):
        return "string"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf")):
        return "number"
    return "string"


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        elif key == "required" and isinstance(out.get(key), list) and isinstance(value, list):
            out[key] = list(dict.fromkeys([*out[key], *value]))
        else:
            out[key] = value
    return out
