"""Cassettes in VCR.py's format, so vcrpy / pytest-recording cassettes replay here and ours there.

A cassette is YAML: `{version: 1, interactions: [{request: {method, uri, body, headers},
response: {status: {code, message}, headers, body: {string}}}]}` with header values as lists.
A streamed response (SSE, chunked) also keeps its chunks and the delay before each in an
extension field, `response.x_mocktools.chunks`, that vcrpy carries along and ignores.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from ..doubles.matchers import UNDEFINED, RequestMatcher

VERSION = 1
EXTENSION = "x_mocktools"
REDACTED = "REDACTED"
#: header names whose values never reach a cassette unless asked (case-insensitive)
DEFAULT_REDACT_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                          "api-key", "x-auth-token", "x-amz-security-token", "x-goog-api-key")
#: query parameters redacted by default
DEFAULT_REDACT_QUERY = ("api_key", "apikey", "key", "token", "access_token", "client_secret", "password",
                        "signature", "sig")
MATCH_FIELDS = ("method", "path", "query", "body", "headers")
DEFAULT_MATCH_ON = ("method", "path", "query")


class _Loader(yaml.SafeLoader):
    """Safe YAML plus the few Python tags older vcrpy cassettes carry (str, unicode, tuple)."""


def _scalar(loader: yaml.SafeLoader, node: Any) -> Any:
    return loader.construct_scalar(node)


def _tuple(loader: yaml.SafeLoader, node: Any) -> Any:
    return tuple(loader.construct_sequence(node))


_Loader.add_constructor("tag:yaml.org,2002:python/str", _scalar)
_Loader.add_constructor("tag:yaml.org,2002:python/unicode", _scalar)
_Loader.add_constructor("tag:yaml.org,2002:python/tuple", _tuple)


def _text(data: bytes | None) -> str | bytes | None:
    """Bodies are kept as text when they are UTF-8 (as vcrpy writes them), else as YAML binary."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):  # vcrpy response bodies are {"string": ...}
        return _bytes(value.get("string"))
    return str(value).encode("utf-8")


def _header_lists(headers: Mapping[str, Any]) -> dict[str, list[str]]:
    return {str(k): [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)] for k, v in headers.items()}


@dataclass
class Interaction:
    """One recorded request and its response (with chunk timing when it was streamed)."""

    method: str
    uri: str
    request_headers: dict[str, list[str]] = field(default_factory=dict)
    request_body: bytes = b""
    status: int = 200
    reason: str = "OK"
    response_headers: dict[str, list[str]] = field(default_factory=dict)
    response_body: bytes = b""
    chunks: list[tuple[float, bytes]] | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.uri).query

    def to_dict(self) -> dict[str, Any]:
        response: dict[str, Any] = {"status": {"code": self.status, "message": self.reason},
                                    "headers": self.response_headers, "body": {"string": _text(self.response_body)}}
        if self.chunks is not None:
            response[EXTENSION] = {"chunks": [{"delay": round(d, 6), "data": _text(c)} for d, c in self.chunks]}
        return {"request": {"method": self.method, "uri": self.uri, "body": _text(self.request_body or None),
                            "headers": self.request_headers}, "response": response}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interaction:
        request, response = data["request"], data["response"]
        status = response.get("status", {})
        code = int(status.get("code", 200)) if isinstance(status, dict) else int(status)
        reason = status.get("message") if isinstance(status, dict) else None
        chunks = None
        extension = response.get(EXTENSION)
        if isinstance(extension, dict) and extension.get("chunks") is not None:
            chunks = [(float(c.get("delay", 0.0)), _bytes(c.get("data"))) for c in extension["chunks"]]
        return cls(method=str(request.get("method", "GET")).upper(), uri=str(request["uri"]),
                   request_headers=_header_lists(request.get("headers") or {}),
                   request_body=_bytes(request.get("body")), status=code,
                   reason=reason or _phrase(code), response_headers=_header_lists(response.get("headers") or {}),
                   response_body=_bytes(response.get("body")), chunks=chunks)

    def matcher(self, match_on: Sequence[str]) -> RequestMatcher:
        """A matcher for requests that replay this interaction, on the fields in `match_on`."""
        query: Any = None
        if "query" in match_on:
            recorded = parse_qsl(self.query, keep_blank_values=True)
            grouped: dict[str, list[str]] = {}
            for name, value in recorded:
                grouped.setdefault(name, []).append(value)
            query = {name: (_any if REDACTED in values else values) for name, values in grouped.items()}
        json_value: Any = UNDEFINED
        data = None
        if "body" in match_on:
            parsed = _json_or_none(self.request_body)
            if parsed is not None:
                json_value = parsed
            else:
                data = self.request_body
        headers = None
        if "headers" in match_on:
            headers = {k: v[0] for k, v in self.request_headers.items() if v and v[0] != REDACTED}
        return RequestMatcher(self.path if "path" in match_on else None,
                              self.method if "method" in match_on else None, query, headers, data, json=json_value)

    def describe(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status}"


def _any(value: Any) -> bool:
    return True


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


class Redactor:
    """Replaces secrets with REDACTED before anything is written: headers and query parameters."""

    def __init__(self, headers: Iterable[str] | None = None, query: Iterable[str] | None = None) -> None:
        self.headers = {h.lower() for h in (DEFAULT_REDACT_HEADERS if headers is None else headers)}
        self.query = {q.lower() for q in (DEFAULT_REDACT_QUERY if query is None else query)}

    def header_lists(self, headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in headers:
            out.setdefault(name, []).append(REDACTED if name.lower() in self.headers else value)
        return out

    def uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        if not parts.query or not self.query:
            return uri
        pairs = [(k, REDACTED if k.lower() in self.query else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        return urlunsplit(parts._replace(query=urlencode(pairs, safe="*")))


class Cassette:
    """Interactions in order, loaded from and saved to a vcrpy-format YAML file."""

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 interactions: Iterable[Interaction] | None = None) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.interactions: list[Interaction] = list(interactions or [])
        self._lock = threading.Lock()
        self.dirty = False

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a vcrpy cassette: YAML, or JSON for a `.json` file (vcrpy's two serializers)."""
        with open(path, encoding="utf-8") as f:
            data = json.load(f) if os.fspath(path).endswith(".json") else yaml.load(f, Loader=_Loader) or {}
        if not isinstance(data, dict) or not isinstance(data.get("interactions", []), list):
            raise ValueError(f"{os.fspath(path)} is not a VCR cassette (no 'interactions' list)")  # noqa: TRY004
        return cls(path, [Interaction.from_dict(i) for i in data.get("interactions", [])])

    def append(self, interaction: Interaction) -> None:
        with self._lock:
            self.interactions.append(interaction)
            self.dirty = True

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"interactions": [i.to_dict() for i in self.interactions], "version": VERSION}

    def save(self, path: str | os.PathLike[str] | None = None) -> str:
        target = os.fspath(path) if path is not None else self.path
        if target is None:
            raise ValueError("the cassette has no path; pass one to save()")
        directory = os.path.dirname(target)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if target.endswith(".json"):  # vcrpy's json serializer (pytest-recording's --vcr-serializer=json)
            try:
                text = json.dumps(self.to_dict(), indent=4, ensure_ascii=False)
            except TypeError:
                raise ValueError(f"{target}: a binary body cannot be written as JSON; use a .yaml cassette") from None
        else:
            text = yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)
        tmp = f"{target}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
        self.dirty = False
        return target

    def __len__(self) -> int:
        return len(self.interactions)


__all__ = [
    "DEFAULT_MATCH_ON",
    "DEFAULT_REDACT_HEADERS",
    "DEFAULT_REDACT_QUERY",
    "EXTENSION",
    "MATCH_FIELDS",
    "REDACTED",
    "Cassette",
    "Interaction",
    "Redactor",
]
