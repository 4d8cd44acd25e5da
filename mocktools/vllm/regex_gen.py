"""Deterministic strings that match a regular expression (for ``structured_outputs.regex`` and
JSON-schema ``pattern``).

The pattern is parsed by Python's own regex parser (``re._parser``); this module only walks the
parsed tree and picks, with a seeded RNG, one string of the language. Every result is checked
with ``re.fullmatch`` by the caller; lookarounds and backreferences are honoured only as far as
the walk allows, so the caller falls back (and says so) when the check fails.
"""
from __future__ import annotations

import random
import re
from typing import Any

try:  # Python 3.11+
    from re import _constants as sre_c  # type: ignore[attr-defined]
    from re import _parser as sre_p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse as sre_p  # type: ignore[no-redef]

_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
_WORD = [c for c in _PRINTABLE if re.match(r"\w", c)]
_DIGIT = [str(d) for d in range(10)]
_SPACE = [" "]
_CATEGORY = {
    sre_c.CATEGORY_DIGIT: _DIGIT, sre_c.CATEGORY_NOT_DIGIT: [c for c in _PRINTABLE if not c.isdigit()],
    sre_c.CATEGORY_WORD: _WORD, sre_c.CATEGORY_NOT_WORD: [c for c in _PRINTABLE if c not in _WORD],
    sre_c.CATEGORY_SPACE: _SPACE, sre_c.CATEGORY_NOT_SPACE: [c for c in _PRINTABLE if c != " "],
}
MAX_REPEAT_EXTRA = 4


class RegexUnsupported(ValueError):
    """The pattern uses a construct the generator cannot satisfy."""


def generate(pattern: str, rng: random.Random, max_len: int = 200) -> str:
    """One string of ``pattern``'s language (``re.fullmatch`` semantics); raises RegexUnsupported."""
    parsed = sre_p.parse(pattern)
    groups: dict[int, str] = {}
    out = _walk(parsed, rng, groups, 0)
    if re.fullmatch(pattern, out) is None:
        raise RegexUnsupported(f"could not generate a string matching {pattern!r}")
    return out[:max_len] if len(out) > max_len and re.fullmatch(pattern, out[:max_len]) else out


def _charset(items: list[tuple[Any, Any]]) -> list[str]:
    negate = False
    chars: set[str] = set()
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.add(chr(av))
        elif op is sre_c.RANGE:
            lo, hi = av
            chars.update(chr(c) for c in range(lo, min(hi, lo + 512) + 1))
        elif op is sre_c.CATEGORY:
            chars.update(_CATEGORY.get(av, []))
    if negate:
        return [c for c in _PRINTABLE if c not in chars]
    return sorted(chars)


def _walk(parsed: Any, rng: random.Random, groups: dict[int, str], depth: int) -> str:
    if depth > 50:
        raise RegexUnsupported("pattern nests too deeply")
    out: list[str] = []
    for op, av in parsed:
        if op is sre_c.LITERAL:
            out.append(chr(av))
        elif op is sre_c.NOT_LITERAL:
            out.append(rng.choice([c for c in _PRINTABLE if c != chr(av)]))
        elif op is sre_c.ANY:
            out.append(rng.choice([c for c in _PRINTABLE if c != "\n"]))
        elif op is sre_c.IN:
            choices = _charset(list(av))
            if not choices:
                raise RegexUnsupported("empty character class")
            out.append(rng.choice(choices))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            hi = lo + MAX_REPEAT_EXTRA if hi is sre_c.MAXREPEAT else min(hi, lo + MAX_REPEAT_EXTRA)
            count = rng.randint(lo, max(lo, hi))
            out.extend(_walk(sub, rng, groups, depth + 1) for _ in range(count))
        elif op is sre_c.SUBPATTERN:
            group, _, _, sub = av
            text = _walk(sub, rng, groups, depth + 1)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op is getattr(sre_c, "ATOMIC_GROUP", None):
            out.append(_walk(av, rng, groups, depth + 1))
        elif op is sre_c.BRANCH:
            _, branches = av
            out.append(_walk(rng.choice(branches), rng, groups, depth + 1))
        elif op is sre_c.GROUPREF:
            out.append(groups.get(av, ""))
        elif op is sre_c.AT:
            continue  # anchors: the generated string is whole
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            continue  # lookarounds: checked by the caller's fullmatch
        else:
            raise RegexUnsupported(f"unsupported regex construct {op}")
    return "".join(out)
