"""Response generation: what the mock "model" says, one token at a time.

Default replies are deterministic pseudo-text derived from (prompt, seed, choice index), so the same
request always yields the same answer. Tests can script replies instead (:class:`ReplyScript`).
Every reply, generated or scripted, passes through the same token loop that honours ``max_tokens``,
stop strings, stop token ids and EOS, so ``usage`` always matches the tokenizer.
"""
from __future__ import annotations

import _random
import hashlib
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .tokenizer import BYTE_OFFSET, EOS_ID, WORD_OFFSET, Tokenizer

_FULL_STOP, _COMMA = BYTE_OFFSET + ord("."), BYTE_OFFSET + ord(",")  # the two punctuation tokens


@dataclass
class SamplingParams:
    """The sampling parameters the mock honours (already validated)."""

    max_tokens: int
    n: int = 1
    temperature: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    include_stop_str_in_output: bool = False
    logprobs: int | None = None  # number of top logprobs per token, None = no logprobs

    def as_dict(self) -> dict[str, Any]:
        """``dataclasses.asdict(self)`` without its generic deep copy (a tenth of the cost)."""
        return {"max_tokens": self.max_tokens, "n": self.n, "temperature": self.temperature, "seed": self.seed,
                "stop": list(self.stop), "stop_token_ids": list(self.stop_token_ids), "ignore_eos": self.ignore_eos,
                "include_stop_str_in_output": self.include_stop_str_in_output, "logprobs": self.logprobs}


@dataclass
class GenerationRequest:
    """What a reply function sees: the request as the mock understood it."""

    kind: str  # "chat" or "completion"
    model: str
    prompt: str  # the rendered prompt text (chat: after the chat template)
    prompt_token_ids: list[int]
    params: SamplingParams
    messages: list[dict] | None = None
    body: dict = field(default_factory=dict)
    index: int = 0  # choice index (prompt position * n + i for completions)

    @property
    def last_user_message(self) -> str | None:
        from .tokenizer import message_text

        for msg in reversed(self.messages or []):
            if msg.get("role") == "user":
                return message_text(msg.get("content"))
        return None


@dataclass
class TokenLogprob:
    token_id: int
    logprob: float
    top: list[tuple[int, float]]  # (token id, logprob), best first; includes the sampled token


@dataclass
class ChoiceOutput:
    """One finished choice: the tokens, their text pieces and why it stopped."""

    token_ids: list[int]
    pieces: list[str]  # text emitted per token ("" for EOS or held-back bytes)
    finish_reason: str
    stop_reason: str | int | None
    logprobs: list[TokenLogprob] | None
    #: per generated token, which part of the turn it belongs to (see channels.py); None: all text
    channels: list[Any] | None = None
    #: (tool-call id, function name) per tool call the turn holds, in order
    calls: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


from .reply_script import Reply, ReplyScript  # noqa: E402, F401  (re-exported: they were defined here)

_new_random, _seed_random = random.Random.__new__, _random.Random.seed


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8", "surrogatepass")).digest()


def _rng(*parts: object, digest: bytes | None = None) -> random.Random:
    digest = digest or _digest(*parts)
    # random.Random(n) without its two Python layers (the same state: Random.__init__ seeds an
    # int through the C seed and clears gauss_next)
    rng = _new_random(random.Random)
    _seed_random(rng, int.from_bytes(digest[:8], "big"))
    rng.gauss_next = None  # type: ignore[attr-defined]
    return rng


MEMO_TEXT = 4096  # longer scripted replies are tokenized each time (a memo entry stays small)


class Generator:
    """Produces choices for a request. ``seed`` is the server seed used when the request has none."""

    #: token ids remembered: default replies (by their RNG seed's digest and length, a pure
    #: function of the prompt, seed and choice) and scripted reply texts, so a repeated request
    #: (what a load test sends, or a test that scripts one reply) skips the drawing or the
    #: tokenizing; bounded, so distinct ones cost one dict entry each up to this many
    MEMO_SIZE = 512

    def __init__(self, tokenizer: Tokenizer, seed: int | None = 0) -> None:
        self.tokenizer = tokenizer
        self.seed = 0 if seed is None else seed
        self._memo: dict[tuple[object, ...], list[int]] = {}
        self._memo_of = tokenizer

    def _remembered(self, key: tuple[object, ...], make: Callable[[], list[int]]) -> list[int]:
        """``make()``'s ids, made once per key (the memo is dropped when the tokenizer changes)."""
        memo = self._memo
        if self._memo_of is not self.tokenizer:  # (the words are the tokenizer's)
            memo.clear()
            self._memo_of = self.tokenizer
        ids = memo.get(key)
        if ids is None:
            ids = make()
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            memo[key] = ids
        return list(ids)  # (callers may change theirs)

    def _sampling_key(self, req: GenerationRequest) -> tuple[object, ...]:
        p = req.params
        if p.temperature == 0:  # greedy: every choice and every seed gives the same answer
            return (req.prompt, "greedy")
        seed = p.seed if p.seed is not None else self.seed
        return (req.prompt, seed, req.index)

    def _draws(self, rng: random.Random) -> tuple[Any, Any, Any, int, int]:
        """What a word draw needs: the word forms, the RNG's two draws, the vocabulary size and its
        bit length (``rng.choice`` spelled out: the same getrandbits draws)."""
        forms = self.tokenizer.word_forms
        size = len(forms)
        if not size:
            raise IndexError("Cannot choose from an empty sequence")
        return forms, rng.getrandbits, rng.random, size, size.bit_length()

    def _word_stream(self, rng: random.Random, first: bool) -> Iterator[int]:
        """Endless pseudo-sentences of vocabulary words (one token per word or punctuation)."""
        # the same draws as choosing a word and encoding its spelling, with the ids looked up once
        # rng.choice(forms) spelled out (the same getrandbits draws, without its two Python calls)
        forms, getrandbits, random_, size, bits = self._draws(rng)
        full_stop, comma = _FULL_STOP, _COMMA  # (locals: read once per token)
        sentence_start = True
        while True:
            r = getrandbits(bits)
            while r >= size:
                r = getrandbits(bits)
            plain, spaced, cap, spaced_cap = forms[r]
            if first:
                yield cap if sentence_start else plain
            else:
                yield spaced_cap if sentence_start else spaced
            first = sentence_start = False
            roll = random_()
            if roll < 0.08:
                yield full_stop
                sentence_start = True
            elif roll < 0.14:
                yield comma

    def default_token_ids(self, req: GenerationRequest, limit: int | None = None) -> list[int]:
        """The natural default answer: 8..40 tokens of pseudo-text, a full stop, then EOS; with
        `limit`, only its first `limit` tokens (the same ones: a reply cut at ``max_tokens``
        need not be written further)."""
        digest = _digest("text", *self._sampling_key(req))
        return self._remembered((digest, limit), lambda: self._default_ids(_rng(digest=digest), limit))

    def _default_ids(self, rng: random.Random, limit: int | None) -> list[int]:
        target = rng.randint(8, 40)
        if limit is not None and limit <= target:
            return self._words(rng, max(0, limit))
        ids = self._words(rng, target)
        ids += self._end_ids()
        return ids if limit is None else ids[:limit]

    def _words(self, rng: random.Random, count: int) -> list[int]:
        """The first `count` tokens of ``_word_stream(rng, True)`` (the same draws), as a list."""
        forms, getrandbits, random_, size, bits = self._draws(rng)
        full_stop, comma = _FULL_STOP, _COMMA  # (locals: read once per token)
        out: list[int] = []
        append = out.append
        sentence_start, first = True, True
        while len(out) < count:
            r = getrandbits(bits)
            while r >= size:
                r = getrandbits(bits)
            _, spaced, cap, spaced_cap = forms[r]
            if first:
                append(cap)
                first = False
            else:
                append(spaced_cap if sentence_start else spaced)
            sentence_start = False
            if len(out) >= count:
                break
            roll = random_()
            if roll < 0.08:
                append(full_stop)
                sentence_start = True
            elif roll < 0.14:
                append(comma)
        return out

    def _end_ids(self) -> list[int]:
        """``encode(".") + [EOS_ID]``, computed once per tokenizer."""
        tok = self.tokenizer
        cached = self.__dict__.get("_end")
        if cached is None or cached[0] is not tok:
            cached = self._end = (tok, tok.encode(".") + [EOS_ID])
        return cached[1]

    def default_text(self, req: GenerationRequest) -> str:
        """The default answer as text (without EOS)."""
        return self.tokenizer.decode(self.default_token_ids(req)[:-1])

    def generate_ids(self, req: GenerationRequest, head: list[int]) -> ChoiceOutput:
        """The token loop over ``head`` (the turn's tokens, EOS appended here) then pseudo-text."""
        return self._decode_loop(req, head + [EOS_ID])

    def rng(self, purpose: str, req: GenerationRequest) -> random.Random:
        """A generator-seeded RNG for one purpose (tool choice, arguments, JSON) of one request."""
        return _rng(purpose, *self._sampling_key(req))

    def generate(self, req: GenerationRequest, reply: str | None = None) -> ChoiceOutput:
        """Run the token loop over the scripted ``reply`` (plus EOS) or the default text.

        After EOS (reached only with ``ignore_eos``) generation continues with pseudo-text.
        """
        if reply is not None:
            ids = self._remembered(("reply", reply), lambda: self.tokenizer.encode(reply)) \
                if len(reply) <= MEMO_TEXT else self.tokenizer.encode(reply)
            head = ids + [EOS_ID]
        else:
            head = self.default_token_ids(req)
        return self._decode_loop(req, head)

    def _tail(self, req: GenerationRequest) -> Iterator[int]:
        """What the model writes past its turn (only reached with ``ignore_eos`` or no EOS): the
        RNG is seeded on first use, since most replies end at EOS."""
        yield from self._word_stream(_rng("tail", *self._sampling_key(req)), False)

    def _decode_loop(self, req: GenerationRequest, head: list[int]) -> ChoiceOutput:
        """The token loop over ``head`` then the pseudo-text tail."""
        p = req.params
        dec = self.tokenizer.incremental_decoder()
        push = dec.push
        max_tokens, ignore_eos, stops, stop_ids = p.max_tokens, p.ignore_eos, p.stop, p.stop_token_ids
        if not (stops or stop_ids or ignore_eos) and EOS_ID in head:
            # the common case: the turn ends at its first EOS or at max_tokens (the loop below, in list ops)
            end = head.index(EOS_ID)
            if end < max_tokens:
                texts = dec.push_all(head[:end])
                texts.append(dec.flush())
                return self._output(req, head[:end + 1], texts, "stop", None)
            ids = head[:max(0, max_tokens)]
            texts = dec.push_all(ids)
            if texts:
                texts[-1] += dec.flush()
            return self._output(req, ids, texts, "length", None)
        candidate = itertools.chain(head, self._tail(req))
        out_ids: list[int] = []
        pieces: list[str] = []
        text = ""
        finish: str = "length"
        stop_reason: str | int | None = None
        for tid in candidate:
            if len(out_ids) >= max_tokens:
                break
            if tid == EOS_ID and ignore_eos:
                continue
            out_ids.append(tid)
            if tid == EOS_ID or (stop_ids and tid in stop_ids):
                pieces.append(dec.flush())
                finish, stop_reason = "stop", (None if tid == EOS_ID else tid)
                break
            piece = push(tid)
            if stops:
                hit = _find_stop(text, piece, stops)
                if hit is not None:
                    stop_str, idx = hit
                    end = idx + (len(stop_str) if p.include_stop_str_in_output else 0)
                    pieces = _trim_pieces(pieces + [piece], end)
                    finish, stop_reason = "stop", stop_str
                    break
                text += piece
            pieces.append(piece)
        if finish == "length" and pieces:
            pieces[-1] += dec.flush()
        return self._output(req, out_ids, pieces, finish, stop_reason)

    def _output(self, req: GenerationRequest, ids: list[int], pieces: list[str], finish: str,
                stop_reason: str | int | None) -> ChoiceOutput:
        logprobs = self._logprobs(req, ids) if req.params.logprobs is not None else None
        return ChoiceOutput(ids, pieces, finish, stop_reason, logprobs)

    def _logprobs(self, req: GenerationRequest, ids: list[int]) -> list[TokenLogprob]:
        rng = _rng("logprobs", *self._sampling_key(req))
        k = req.params.logprobs or 0
        n_words = self.tokenizer.vocab_size - WORD_OFFSET
        result = []
        for tid in ids:
            lp = -round(rng.uniform(0.001, 2.0), 6)
            top = [(tid, lp)]
            worse = lp
            while len(top) < k:
                alt = WORD_OFFSET + rng.randrange(n_words) if n_words else BYTE_OFFSET + rng.randrange(256)
                if any(alt == t for t, _ in top):
                    continue
                worse = round(worse - rng.uniform(0.1, 1.5), 6)
                top.append((alt, worse))
            result.append(TokenLogprob(tid, lp, top if k else []))
        return result


def _find_stop(text: str, piece: str, stops: list[str]) -> tuple[str, int] | None:
    """Earliest stop string that ends within the newly added ``piece``: (stop, start offset)."""
    if not stops or not piece:
        return None
    full = text + piece
    best: tuple[str, int] | None = None
    for s in stops:
        start = max(0, len(text) - len(s) + 1)
        idx = full.find(s, start)
        if idx != -1 and (best is None or idx < best[1]):
            best = (s, idx)
    return best


def _trim_pieces(pieces: list[str], end: int) -> list[str]:
    out, used = [], 0
    for piece in pieces:
        keep = max(0, min(len(piece), end - used))
        out.append(piece[:keep])
        used += len(piece)
    return out
