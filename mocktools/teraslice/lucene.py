"""Lucene query strings (the `q=` of the list endpoints), parsed by luqum and compiled to predicates.

Why luqum instead of the hand-written parser this replaced (numbers: ``python -m bench.bench_libs``):
fidelity. The old parser read ``_created:[2024-01-01 TO 2025-01-01]`` as three loose terms ORed
together, had no field groups (``_status:(running OR failing)``), no ``{}`` exclusive ranges,
regex, fuzzy or boosts, and treated juxtaposed ``NOT`` specially instead of applying Lucene's
MUST / SHOULD / MUST_NOT clause rules. luqum is 5-10x slower per parse (16-124 us against 2-13 us
for the benchmark's queries, on this loaded 2-core machine), which a mock that parses once per
request can afford; compiled predicates are cached by query string, so a poller repeating its
query pays nothing. luqum's PLY parser keeps state on a module-level object, so parsing is
serialised by a lock.

What luqum does not read, and Lucene does: the ``&&``, ``||`` and ``!`` spellings of AND, OR and
NOT. They are rewritten (outside quoted phrases) before parsing.

Values compare as in Elasticsearch's keyword/numeric fields: numbers numerically, everything else
as exact strings (ISO timestamps therefore order correctly); ``*`` and ``?`` are wildcards;
``field:*`` means "exists"; a bare term matches any top-level field.
"""
from __future__ import annotations

import functools
import re
import threading
from typing import Any, Callable

from luqum import tree
from luqum.exceptions import ParseError
from luqum.parser import parser as _luqum_parser

Predicate = Callable[[dict[str, Any]], bool]
MAX_DEPTH = 64
MAX_CLAUSES = 1024  # Elasticsearch's default max_clause_count
MAX_LENGTH = 20_000

_PARSE_LOCK = threading.Lock()
_SPELLINGS = re.compile(r'"(?:[^"\\]|\\.)*"|&&|\|\||(?<![\w.:*?\\])!(?=\S)')


class LuceneError(ValueError):
    """A query string Elasticsearch would refuse."""


def _respell(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        token = m.group(0)
        return {"&&": " AND ", "||": " OR ", "!": "NOT "}.get(token, token)

    return _SPELLINGS.sub(swap, text)


def compile_query(text: str, value_matches: Callable[[Any, str], bool]) -> Predicate:
    """The predicate of one query; `value_matches(actual, expected)` compares a field value with a
    term (``>4`` style bounds included). Raises LuceneError naming the query."""
    if len(text) > MAX_LENGTH:
        raise LuceneError(f"Failed to parse query [{text[:200]}]: too long")
    return _compiled(text, value_matches)


@functools.lru_cache(maxsize=256)
def _compiled(text: str, value_matches: Callable[[Any, str], bool]) -> Predicate:
    try:
        with _PARSE_LOCK:
            node = _luqum_parser.parse(_respell(text))
    except (ParseError, RecursionError) as exc:
        raise LuceneError(f"Failed to parse query [{text[:200]}]: {exc}") from None
    return _Compiler(text, value_matches).build(node)


class _Compiler:
    def __init__(self, text: str, value_matches: Callable[[Any, str], bool]) -> None:
        self.text = text
        self.matches = value_matches
        self.clauses = 0

    def fail(self, why: str) -> LuceneError:
        return LuceneError(f"Failed to parse query [{self.text[:200]}]: {why}")

    def build(self, node: tree.Item, field: str | None = None, depth: int = 0) -> Predicate:
        if depth > MAX_DEPTH:
            raise self.fail("nested too deep")
        d = depth + 1
        if isinstance(node, tree.SearchField):
            return self.build(node.expr, node.name, d)
        if isinstance(node, (tree.Group, tree.FieldGroup)):
            return self.build(node.expr, field, d)
        if isinstance(node, tree.Boost):  # scoring only
            return self.build(node.expr, field, d)
        if isinstance(node, (tree.Not, tree.Prohibit)):
            inner = self.build(node.a, field, d)
            return lambda rec: not inner(rec)
        if isinstance(node, tree.Plus):
            return self.build(node.a, field, d)
        if isinstance(node, tree.AndOperation):
            parts = [self.build(c, field, d) for c in node.children]
            return lambda rec: all(p(rec) for p in parts)
        if isinstance(node, (tree.OrOperation, tree.UnknownOperation)):
            return self._boolean(node.children, field, d)
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self.fail("too many clauses")
        return self._leaf(node, field)

    def _boolean(self, children: Any, field: str | None, depth: int) -> Predicate:
        """Lucene's clause rules: +x MUST, -x / NOT x MUST_NOT, the rest SHOULD (one must match
        unless there is a MUST clause; a purely negative query matches what it does not exclude)."""
        must: list[Predicate] = []
        must_not: list[Predicate] = []
        should: list[Predicate] = []
        for child in children:
            if isinstance(child, (tree.Not, tree.Prohibit)):
                must_not.append(self.build(child.a, field, depth))
            elif isinstance(child, tree.Plus):
                must.append(self.build(child.a, field, depth))
            else:
                should.append(self.build(child, field, depth))

        def pred(rec: dict[str, Any]) -> bool:
            if any(p(rec) for p in must_not) or not all(p(rec) for p in must):
                return False
            return not should or bool(must) or any(p(rec) for p in should)
        return pred

    def _leaf(self, node: tree.Item, field: str | None) -> Predicate:
        if isinstance(node, tree.Word):
            return self._term(field, node.value, quoted=False)
        if isinstance(node, tree.Phrase):
            return self._term(field, _unquote(node.value), quoted=True)
        if isinstance(node, tree.Proximity):  # keyword fields: the slop cannot matter
            return self._leaf(node.term, field)
        if isinstance(node, tree.From):
            return self._term(field, (">=" if node.include else ">") + _word(node.a), quoted=False)
        if isinstance(node, tree.To):
            return self._term(field, ("<=" if node.include else "<") + _word(node.a), quoted=False)
        if isinstance(node, tree.Range):
            low, high = _word(node.low), _word(node.high)
            parts = []
            if low != "*":
                parts.append(self._term(field, (">=" if node.include_low else ">") + low, quoted=False))
            if high != "*":
                parts.append(self._term(field, ("<=" if node.include_high else "<") + high, quoted=False))
            if not parts:
                return self._term(field, "*", quoted=False)
            return lambda rec: all(p(rec) for p in parts)
        if isinstance(node, tree.Regex):
            pattern = _regex(node.value, self)
            return self._test(field, lambda v: pattern.fullmatch(str(v)) is not None)
        if isinstance(node, tree.Fuzzy):
            word = _word(node.term)
            degree = int(node.degree) if node.degree >= 1 else 2  # `~` alone: Lucene's default, 2 edits
            edits = min(degree, 2)
            return self._test(field, lambda v: _within_edits(str(v), word, edits))
        raise self.fail(f"{type(node).__name__} is not supported")

    def _test(self, field: str | None, check: Callable[[Any], bool]) -> Predicate:
        def each(value: Any) -> bool:
            return any(check(v) for v in value) if isinstance(value, list) else check(value)
        if field is None:
            return lambda rec: any(each(v) for v in rec.values() if v is not None and not isinstance(v, dict))
        return lambda rec: rec.get(field) is not None and each(rec[field])

    def _term(self, field: str | None, value: str, *, quoted: bool) -> Predicate:
        matches = self.matches
        if field is None:
            return lambda rec: any(matches(v, value) for v in rec.values() if not isinstance(v, dict))
        if value == "*" and not quoted:
            return lambda rec: rec.get(field) is not None
        if quoted:
            return lambda rec: field in rec and rec[field] is not None and (
                str(rec[field]).lower() == value.lower() if isinstance(rec[field], bool)
                else any(str(v) == value for v in rec[field]) if isinstance(rec[field], list)
                else str(rec[field]) == value)
        return lambda rec: field in rec and rec[field] is not None and matches(rec[field], value)


def _word(node: Any) -> str:
    return _unquote(node.value) if isinstance(node, tree.Phrase) else str(node.value)


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value[1:-1])


def _regex(value: str, compiler: _Compiler) -> re.Pattern[str]:
    try:
        return re.compile(value[1:-1])
    except re.error as exc:
        raise compiler.fail(f"bad regular expression: {exc}") from None


def _within_edits(a: str, b: str, limit: int) -> bool:
    """Damerau (optimal string alignment) distance <= limit, Lucene's fuzzy default."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1] <= limit


__all__ = ["compile_query", "LuceneError", "MAX_DEPTH", "MAX_CLAUSES"]
