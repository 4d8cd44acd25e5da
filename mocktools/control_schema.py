"""Declared control routes: one JSON Schema per route validates its input and documents it.

A mock's package declares its `/_mock/<name>/` controls as a list of `ControlRoute`s; the core
parses the body (or query), validates it against the route's schema with `jsonschema`, answers
400 naming the field when it does not fit, and calls the handler with the validated fields as
keyword arguments. The same schemas make the OpenAPI document (`openapi.py`).
"""
from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, relevance
from werkzeug.wrappers import Request

from . import faults as fp
from .errors import ApiError

Schema = dict[str, Any]
_RULE_ARGS = re.compile(r"<(?:[^>:]+:)?(\w+)>")
_CHECKED: set[tuple[Any, ...]] = set()

# -- schema building blocks (also used by every package's controls.py) -------------------------
STRING: Schema = {"type": "string", "maxLength": 100_000}
BOOLEAN: Schema = {"type": "boolean"}


def integer(minimum: int = 0, maximum: int = fp.MAX_COUNT, **extra: Any) -> Schema:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, **extra}


def number(minimum: float = 0.0, maximum: float = fp.MAX_LATENCY, *, exclusive_minimum: bool = False,
           **extra: Any) -> Schema:
    bound = {"exclusiveMinimum": minimum} if exclusive_minimum else {"minimum": minimum}
    return {"type": "number", **bound, "maximum": maximum, **extra}


def enum(*choices: str, **extra: Any) -> Schema:
    return {"type": "string", "enum": list(choices), **extra}


def nullable(schema: Schema) -> Schema:
    """`schema` or JSON null (OpenAPI 3.1 / JSON Schema 2020-12 style)."""
    out: Schema = {"anyOf": [schema, {"type": "null"}]}
    if "description" in schema:
        out["description"] = schema["description"]
    return out


def array(items: Schema, *, max_items: int = 10_000, min_items: int = 0, **extra: Any) -> Schema:
    return {"type": "array", "items": items, "minItems": min_items, "maxItems": max_items, **extra}


def obj(required: Iterable[str] = (), additional: bool | Schema = False, **properties: Schema) -> Schema:
    """A JSON object schema; unknown fields are refused unless `additional` says otherwise."""
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


PATH: Schema = {"type": "string", "minLength": 1, "maxLength": fp.MAX_PATH_LENGTH,
                "description": "an exact path or an fnmatch glob such as /v1/*; null: every path"}
STATUS: Schema = {"title": f"an HTTP status {fp.MIN_STATUS}-{fp.MAX_STATUS} or a gRPC code name such as UNAVAILABLE",
                  "anyOf": [integer(fp.MIN_STATUS, fp.MAX_STATUS), enum(*fp.GRPC_CODE_NAMES)]}
RETRY_AFTER: Schema = nullable(number(0.0, fp.MAX_RETRY_AFTER, description="seconds sent as Retry-After"))


# -- the declaration -----------------------------------------------------------------------------
@dataclass
class ControlRoute:
    """One control: `handler(**path_args, **fields)` returns JSON (None answers `{"ok": true}`).

    `schema` is the JSON Schema of the JSON body (POST/PUT/DELETE) or, for GET, of the query
    string (each property one parameter; values are converted to the declared type first); DELETE
    reads the query string too.
    """

    path: str
    method: str
    handler: Callable[..., Any]
    schema: Schema | None = None
    summary: str = ""
    description: str = ""
    responses: Mapping[int, str] = field(default_factory=dict)
    tag: str = "controls"
    #: pass the werkzeug request as `request=` (pages that negotiate or name their own URL)
    pass_request: bool = False

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.schema is None:
            self.schema = obj()
        self._validator: Any = None  # compiled on first use: a mock builds dozens of routes it may never call
        self._check_handler()

    def _check_handler(self) -> None:
        """Fail at declaration, not at the first request, when the handler cannot take the fields."""
        func = getattr(self.handler, "__func__", self.handler)
        key = (getattr(func, "__code__", None), self.path, self.pass_request,
               tuple((self.schema or {}).get("properties", {})))
        if key[0] is not None and key in _CHECKED:  # the same control of another mock instance
            return
        accepted = _parameters(self.handler)
        if accepted is None:
            return
        wanted = set((self.schema or {}).get("properties", {})) | set(_RULE_ARGS.findall(self.path))
        wanted |= {"request"} if self.pass_request else set()
        missing = sorted(wanted - accepted)
        if missing:
            raise TypeError(f"control {self.method} {self.path}: handler {self.handler!r} takes no {missing}")
        if key[0] is not None and len(_CHECKED) < 10_000:
            _CHECKED.add(key)

    @property
    def reads_query(self) -> bool:
        """GET, HEAD and DELETE take their input from the query string; the rest from a JSON body."""
        return self.method in ("GET", "HEAD", "DELETE")

    def __call__(self, request: Request, **path_args: Any) -> Any:
        fields = self.parse_query(request) if self.reads_query else self.parse_body(request)
        self.validate(fields)
        if self.pass_request:
            fields["request"] = request
        try:
            result = self.handler(**path_args, **fields)
        except (fp.ControlValueError, fp.ControlTypeError) as exc:
            raise field_error(exc.param, str(exc)) from None
        return {"ok": True} if result is None else result

    # -- input -----------------------------------------------------------------------------------
    def parse_body(self, request: Request) -> dict[str, Any]:
        return read_body(request)

    def parse_query(self, request: Request) -> dict[str, Any]:
        properties = (self.schema or {}).get("properties", {})
        out: dict[str, Any] = {}
        for name, prop in properties.items():
            if name in request.args:
                out[name] = _from_query(name, request.args[name], prop)
        return out

    def validate(self, fields: Any) -> None:
        if self._validator is None:
            self._validator = _VALIDATOR(self.schema)
        errors = list(self._validator.iter_errors(fields))
        if errors:  # the most relevant error at the shallowest place, without descending into anyOf
            name, message = describe_error(max(errors, key=relevance))
            raise field_error(name, message)


def _parameters(handler: Callable[..., Any]) -> set[str] | None:
    """The keyword names `handler` takes (None: any). Read from the code object, which is far
    cheaper than inspect.signature and the same for every mock instance."""
    func = getattr(handler, "__func__", handler)
    code = getattr(func, "__code__", None)
    if code is None:
        try:
            params = inspect.signature(handler).parameters
        except (TypeError, ValueError):  # a builtin without a signature: trust it
            return None
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return None
        return set(params)
    if code.co_flags & inspect.CO_VARKEYWORDS:
        return None
    return set(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])


def read_body(request: Request) -> dict[str, Any]:
    """A control's JSON object body ({} when empty): 415 for another content type, 400 for bad
    JSON or a non-finite number (naming the field), 422 for a JSON value that is not an object."""
    data = request.get_data(cache=True)
    if not data.strip():
        return {}
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, f"Content-Type must be application/json, got {mimetype!r}", type="unsupported_media_type")
    body = parse_json(data)
    if not isinstance(body, dict):
        raise ApiError(422, f"control body must be a JSON object, got {_json_type(body)}", type="invalid_body")
    return body


def field_error(name: str, message: str) -> ApiError:
    """The control API's 400: `{"error": {..., "field": name}}`."""
    return ApiError(400, message, type="invalid_field", field=name)


def _strict_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_VALIDATOR = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer))


def parse_json(data: bytes) -> Any:
    """JSON in, with non-finite numbers (NaN, Infinity, 1e400) refused naming the field."""
    try:
        value = json.loads(data, parse_constant=float)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}", type="malformed_json") from None
    bad = _non_finite(value)
    if bad is not None:
        raise field_error(bad, f"{bad or 'body'}: numbers must be finite (NaN, Infinity and 1e400 are not)")
    return value


def _non_finite(value: Any) -> str | None:
    """The dotted path of the first non-finite number in `value` (iterative: deep JSON is fine)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where
        if isinstance(item, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in enumerate(item))
    return None


def _types_of(schema: Schema) -> list[str]:
    kinds = schema.get("type")
    if isinstance(kinds, str):
        return [kinds]
    if isinstance(kinds, list):
        return kinds
    return [t for sub in schema.get("anyOf", []) for t in _types_of(sub)]


def _from_query(name: str, raw: str, schema: Schema) -> Any:
    """A query-string value converted to the type its schema declares."""
    kinds = _types_of(schema)
    if "integer" in kinds:
        try:
            return int(raw)
        except ValueError:
            raise field_error(name, f"{name}: must be an integer, got {raw!r}") from None
    if "number" in kinds:
        try:
            value = float(raw)
        except ValueError:
            raise field_error(name, f"{name}: must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise field_error(name, f"{name}: must be a finite number, got {raw!r}")
        return value
    if "boolean" in kinds:
        if raw not in ("true", "false"):
            raise field_error(name, f"{name}: must be true or false, got {raw!r}")
        return raw == "true"
    return raw


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_error(error: ValidationError) -> tuple[str, str]:
    """(field, message) for the most relevant schema violation."""
    where = ".".join(str(p) for p in error.absolute_path)
    kind, instance, schema = error.validator, error.instance, error.schema
    if kind == "required" and isinstance(instance, dict):
        missing = [k for k in error.validator_value if k not in instance]
        name = ".".join(filter(None, [where, missing[0] if missing else ""]))
        return name, f"{name}: is required"
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in known)
        name = ".".join(filter(None, [where, extra[0] if extra else ""]))
        return name, f"{name}: unknown field; allowed: {known}"
    if kind in ("anyOf", "oneOf") and error.context:
        # a branch that fits the value's shape but fails inside it names the deeper field
        inside = [e for e in error.context
                  if e.relative_path or e.validator in ("additionalProperties", "required", "minItems", "maxItems")]
        if inside:
            return describe_error(max(inside, key=relevance))
    label = where or "body"
    if kind in ("anyOf", "oneOf", "type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"):
        return where, f"{label}: must be {phrase(schema)}, got {_short(instance)} ({_json_type(instance)})"
    return where, f"{label}: {error.message}"


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) or not float(value).is_integer() else str(int(value))


def phrase(schema: Schema) -> str:
    """A schema in words, for error messages: "an integer >= 0 and <= 10 or null" (or its title)."""
    if "title" in schema:
        return str(schema["title"])
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(phrase(s) for s in schema.get("anyOf") or schema.get("oneOf") or [])
    if "enum" in schema:
        return f"one of {schema['enum']}"
    kind = schema.get("type")
    if kind in ("integer", "number"):
        article = "an integer" if kind == "integer" else "a number"
        low = (f"> {_num(schema['exclusiveMinimum'])}" if "exclusiveMinimum" in schema
               else f">= {_num(schema['minimum'])}" if "minimum" in schema else "")
        high = f"<= {_num(schema['maximum'])}" if "maximum" in schema else ""
        return " ".join(filter(None, [article, " and ".join(filter(None, [low, high]))]))
    return {"string": "a string", "boolean": "true or false", "null": "null", "object": "an object",
            "array": "an array"}.get(str(kind), "valid")


__all__ = ["BOOLEAN", "PATH", "RETRY_AFTER", "STATUS", "STRING", "ControlRoute", "Schema", "array",
           "describe_error", "enum", "field_error", "integer", "nullable", "number", "obj", "parse_json", "read_body"]
