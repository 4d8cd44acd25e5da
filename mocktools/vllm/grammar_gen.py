"""``structured_outputs.grammar`` where a mock can honour it: a *non-recursive* EBNF grammar
(GBNF ``name ::= …`` as xgrammar takes it, or Lark ``name: …``) is rewritten as one regular
expression, from which regex_gen draws a string; Python's ``re`` then checks it.

Supported: string literals, character classes, rule references, groups, ``|``, ``*``, ``+``,
``?``, ``{m,n}`` and Lark ``/regex/`` terminals. A recursive grammar (a JSON grammar, nested
expressions) cannot become a regex: :func:`to_regex` returns None and the caller says the
output is unconstrained (see docs/vllm.md).
"""
from __future__ import annotations

import json
import re

_TOKEN = re.compile(r'''
    (?P<ws>\s+|\#[^\n]*|//[^\n]*)
  | (?P<def>::=|:(?!:))
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<cls>\[(?:[^\]\\]|\\.)*\])
  | (?P<re>/(?:[^/\\]|\\.)+/[imsx]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.-]*)
  | (?P<rep>\{\s*\d+\s*(?:,\s*\d*\s*)?\})
  | (?P<op>[()|*+?])
''', re.VERBOSE)


class GrammarUnsupported(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise GrammarUnsupported(f"cannot read the grammar at {text[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
    return out


def _rules(text: str) -> dict[str, list[tuple[str, str]]]:
    toks = _tokens(text)
    rules: dict[str, list[tuple[str, str]]] = {}
    i = 0
    while i < len(toks):
        if toks[i][0] != "name" or i + 1 >= len(toks) or toks[i + 1][0] != "def":
            raise GrammarUnsupported(f"expected `name ::=` at {toks[i][1]!r}")
        name, j = toks[i][1], i + 2
        while j < len(toks) and not (toks[j][0] == "name" and j + 1 < len(toks) and toks[j + 1][0] == "def"):
            j += 1
        rules[name.lstrip("?!")] = toks[i + 2:j]
        i = j
    return rules


def to_regex(grammar: str) -> str | None:
    """The grammar's language as a Python regex, or None if it is recursive or not understood."""
    try:
        rules = _rules(grammar)
        root = "root" if "root" in rules else "start" if "start" in rules else next(iter(rules), None)
        if root is None:
            return None
        return _expand(rules, root, ())
    except (GrammarUnsupported, json.JSONDecodeError, re.error, RecursionError, OverflowError):
        return None


def _expand(rules: dict[str, list[tuple[str, str]]], name: str, stack: tuple[str, ...]) -> str:
    if name in stack:
        raise GrammarUnsupported(f"rule {name!r} is recursive")
    if name not in rules:
        raise GrammarUnsupported(f"undefined rule {name!r}")
    parts: list[str] = []
    for kind, text in rules[name]:
        if kind == "str":
            value = json.loads('"' + text[1:-1].replace('\\"', '"').replace('"', '\\"') + '"') \
                if text[0] == "'" else json.loads(text)
            parts.append(re.escape(value))
        elif kind == "cls":
            re.compile(text)
            parts.append(text)
        elif kind == "re":
            body = text[1:text.rindex("/")]
            re.compile(body)
            parts.append(f"(?:{body})")
        elif kind == "name":
            parts.append(f"(?:{_expand(rules, text.lstrip('?!'), (*stack, name))})")
        elif kind == "rep":
            parts.append(text.replace(" ", ""))
        elif kind == "op":
            parts.append({"(": "(?:"}.get(text, text))
        else:
            raise GrammarUnsupported(f"unexpected {text!r}")
    regex = "".join(parts)
    re.compile(regex)
    return regex
