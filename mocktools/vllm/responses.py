"""Response bodies and stream chunks in vLLM's OpenAI-compatible shapes (pure functions)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .generation import ChoiceOutput, TokenLogprob
from .stream_codec import EventTemplates
from .tokenizer import Tokenizer


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens": completion_tokens, "prompt_tokens_details": None,
            "completion_tokens_details": None}


def _lp_entry(tok: Tokenizer, token_id: int, logprob: float) -> dict[str, Any]:
    return {"token": tok.token_str(token_id), "logprob": logprob, "bytes": list(tok.token_bytes(token_id))}


def chat_logprobs(tok: Tokenizer, items: list[TokenLogprob]) -> dict[str, Any]:
    return {"content": [{**_lp_entry(tok, it.token_id, it.logprob),
                         "top_logprobs": [_lp_entry(tok, t, lp) for t, lp in it.top]} for it in items]}


def completion_logprobs(tok: Tokenizer, items: list[TokenLogprob], pieces: list[str],
                        offset: int = 0) -> dict[str, Any]:
    offsets, pos = [], offset
    for piece in pieces[: len(items)]:
        offsets.append(pos)
        pos += len(piece)
    return {"text_offset": offsets, "token_logprobs": [it.logprob for it in items],
            "tokens": [tok.token_str(it.token_id) for it in items],
            "top_logprobs": [{tok.token_str(t): lp for t, lp in it.top} if it.top else None for it in items]}


def text_completion(rid: str, created: int, model: str, outputs: list[ChoiceOutput], prompt_tokens: int,
                    tok: Tokenizer, echo_texts: list[str], fingerprint: str | None = None) -> dict[str, Any]:
    choices = []
    for i, out in enumerate(outputs):
        echo = echo_texts[i]
        choices.append({
            "index": i, "text": echo + out.text,
            "logprobs": completion_logprobs(tok, out.logprobs, out.pieces, len(echo))
            if out.logprobs is not None else None,
            "finish_reason": out.finish_reason, "stop_reason": out.stop_reason, "prompt_logprobs": None,
        })
    return {"id": rid, "object": "text_completion", "created": created, "model": model, "choices": choices,
            "system_fingerprint": fingerprint,
            "usage": usage(prompt_tokens, sum(len(o.token_ids) for o in outputs))}


def stream_chunks(rid: str, created: int, model: str, outputs: list[ChoiceOutput], prompt_tokens: int,
                  tok: Tokenizer, *, include_usage: bool, continuous_usage: bool, echo_texts: list[str] | None = None,
                  framed: bool = True) -> Iterator[tuple[int, dict[str, Any] | bytes]]:
    """A completion stream's (step, chunk): step k when the k-th token is out, -1 after (chat
    streams: chat_render.chat_stream_chunks).

    Choices advance together, one token per step, as vLLM's engine emits them. Empty non-final
    pieces (bytes held back for UTF-8) produce no chunk, as in vLLM. ``framed``: the common
    chunk (text only, not a choice's last) comes as its SSE event already (`EventTemplates`,
    the same bytes; False gives every chunk as a dict, which tests compare with).
    """
    base = {"id": rid, "object": "text_completion", "created": created, "model": model}
    produced = [0] * len(outputs)

    def text_chunk(index: int, piece: str) -> dict[str, Any]:
        return {**base, "choices": [{"index": index, "text": piece, "logprobs": None, "finish_reason": None,
                                     "stop_reason": None}]}
    templates = EventTemplates(text_chunk) if framed and not continuous_usage else None
    steps = max((len(o.token_ids) for o in outputs), default=0)
    for step in range(steps):
        for i, out in enumerate(outputs):
            if step >= len(out.token_ids):
                continue
            produced[i] += 1
            last = step == len(out.token_ids) - 1
            piece = out.pieces[step] if step < len(out.pieces) else ""
            if step == 0 and echo_texts:
                piece = echo_texts[i] + piece
            if not piece and not last:
                continue
            if templates is not None and not last and out.logprobs is None:
                yield step + 1, templates.event(i, piece)
                continue
            lp = None
            if out.logprobs is not None:
                lp = completion_logprobs(tok, [out.logprobs[step]], [piece], sum(len(p) for p in out.pieces[:step]))
            choice = {"index": i, "text": piece, "logprobs": lp, "finish_reason": None, "stop_reason": None}
            if last:
                choice["finish_reason"] = out.finish_reason
                choice["stop_reason"] = out.stop_reason
            chunk = {**base, "choices": [choice]}
            if continuous_usage:
                chunk["usage"] = usage(prompt_tokens, sum(produced))
            yield step + 1, chunk
    if include_usage:
        yield -1, {**base, "choices": [], "usage": usage(prompt_tokens, sum(produced))}
