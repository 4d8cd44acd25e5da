"""A Turn as the model's raw token stream, and back: which token is reasoning, text or tool call.

The "model" writes ``reasoning</think>\\n\\n`` (when a reasoning parser is configured), then the
text, then one hermes ``<tool_call>…</tool_call>`` block per call. Every token gets a label:

* ``"c"`` text (also EOS and anything after the turn), ``"r"`` reasoning, ``"m"`` markup the
  parsers withhold (``</think>``);
* ``("h", k)`` the markup and name of call *k* (its header delta goes out with the last one),
  ``("a", k)`` its arguments, ``("t", k)`` its closing markup.

Cutting the stream anywhere (``max_tokens``, stop strings) leaves a consistent prefix: a call
whose header was cut is not a call yet, one whose arguments were cut has partial arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .generation import ChoiceOutput
from .tokenizer import Tokenizer
from .tools import call_markup
from .turns import Turn

THINK_END = "</think>\n\n"


@dataclass
class Parsed:
    """What a parser extracts from one choice."""

    reasoning: str | None
    content: str
    calls: list[dict[str, Any]] = field(default_factory=list)  # id, name, arguments, complete
    reasoning_tokens: int = 0

    @property
    def has_calls(self) -> bool:
        return bool(self.calls)


def build(turn: Turn, tok: Tokenizer, *, extract_tools: bool, reasoning_parser: bool,
          call_ids: list[str], arguments: list[str],
          content_ids: list[int] | None = None) -> tuple[list[int], list[Any], list[tuple[str, str]]]:
    """(token ids, labels, (id, name) per call) for one turn; ``arguments`` holds each call's JSON.

    ``content_ids``: the content's ids when already known (``tok.encode(turn.content)``; then
    ``turn.content`` is not read)."""
    ids: list[int] = []
    labels: list[Any] = []

    def add(text: str, label: Any) -> None:
        if text:
            new = tok.encode(text)
            ids.extend(new)
            labels.extend([label] * len(new))

    if turn.reasoning is not None:
        if reasoning_parser:
            add(turn.reasoning, "r")
            add(THINK_END, "m")
        else:
            add(f"<think>{turn.reasoning}</think>\n\n", "c")
    if content_ids is not None:  # (the content's own ids: the turn's text need not be there)
        ids.extend(content_ids)
        labels.extend(["c"] * len(content_ids))
    elif turn.content:
        add(turn.content, "c")
    calls = []
    for k, call in enumerate(turn.tool_calls):
        head, args, tail = call_markup(call.name, arguments[k])
        sep = "\n" if (k or turn.content or content_ids) else ""
        if extract_tools:
            add(sep + head, ("h", k))
            add(args, ("a", k))
            add(tail, ("t", k))
            calls.append((call_ids[k], call.name))
        else:
            add(sep + head + args + tail, "c")
    return ids, labels, calls


def label(out: ChoiceOutput, i: int) -> Any:
    """The label of generated token ``i`` (tokens past the turn, e.g. after ignored EOS, are text)."""
    channels = out.channels
    if channels is None:
        return "c"
    return channels[i] if i < len(channels) else "c"


def header_ends(out: ChoiceOutput) -> dict[int, int]:
    """Call index -> position of its last header token (the header delta goes out there)."""
    ends: dict[int, int] = {}
    for i, lab in enumerate(out.channels or []):
        if isinstance(lab, tuple) and lab[0] == "h":
            ends[lab[1]] = i
    return ends


def _all_text(labels: list[Any]) -> bool:
    return labels.count("c") == len(labels)


def parse(out: ChoiceOutput) -> Parsed:
    """Reasoning, text and tool calls of a finished choice, as the parsers would extract them."""
    if out.channels is None or (not out.calls and _all_text(out.channels)):
        return Parsed(None, out.text)
    reasoning: list[str] = []
    content: list[str] = []
    args: dict[int, list[str]] = {}
    seen_tail: dict[int, int] = {}
    n_tail: dict[int, int] = {}
    for lab in out.channels:
        if isinstance(lab, tuple) and lab[0] == "t":
            n_tail[lab[1]] = n_tail.get(lab[1], 0) + 1
    ends = header_ends(out)
    r_tokens = 0
    has_reasoning = "r" in out.channels
    for i, piece in enumerate(out.pieces):
        lab = label(out, i)
        if lab == "c":
            content.append(piece)
        elif lab == "r":
            reasoning.append(piece)
            r_tokens += 1
        elif isinstance(lab, tuple):
            kind, k = lab
            if kind == "a":
                args.setdefault(k, []).append(piece)
            elif kind == "t":
                seen_tail[k] = seen_tail.get(k, 0) + 1
    n = len(out.pieces)
    calls = []
    for k, (cid, name) in enumerate(out.calls):
        if ends.get(k, n) >= n:
            break  # header not complete: the parser has not seen this call
        calls.append({"id": cid, "name": name, "arguments": "".join(args.get(k, [])),
                      "complete": seen_tail.get(k, 0) == n_tail.get(k, 0)})
    return Parsed("".join(reasoning) if has_reasoning else None, "".join(content), calls, r_tokens)
