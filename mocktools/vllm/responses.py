"""Response bodies and stream chunks in vLLM's OpenAI-compatible shapes (pure functions)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .generation import ChoiceOutput, TokenLogprob
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


def stream_chunks(kind: str, rid: str, created: int, model: str, outputs: list[ChoiceOutput],
                  prompt_tokens: int, tok: Tokenizer, *, include_usage: bool, continuous_usage: bool,
                  echo_texts: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (step, chunk): step 0 before any token, step k when the k-th token is out, -1 after.

    Choices advance together, one token per step, as vLLM's engine emits them. Empty non-final
    pieces (bytes held back for UTF-8) produce no chunk, as in vLLM.
    """
    obj = "chat.completion.chunk" if kind == "chat" else "text_completion"
    base = {"id": rid, "object": obj, "created": created, "model": model}
    produced = [0] * len(outputs)

    def running_usage() -> dict[str, Any]:
        return usage(prompt_tokens, sum(produced))

    if kind == "chat":
        for i in range(len(outputs)):
            chunk = {**base, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                          "logprobs": None, "finish_reason": None}]}
            if continuous_usage:
                chunk["usage"] = running_usage()
            yield 0, chunk
    steps = max((len(o.token_ids) for o in outputs), default=0)
    for step in range(steps):
        for i, out in enumerate(outputs):
            if step >= len(out.token_ids):
                continue
            produced[i] += 1
            last = step == len(out.token_ids) - 1
            piece = out.pieces[step] if step < len(out.pieces) else ""
            if kind != "chat" and step == 0 and echo_texts:
                piece = echo_texts[i] + piece
            if not piece and not last:
                continue
            lp = None
            if out.logprobs is not None:
                items = [out.logprobs[step]]
                lp = chat_logprobs(tok, items) if kind == "chat" else completion_logprobs(
                    tok, items, [piece], sum(len(p) for p in out.pieces[:step]))
            if kind == "chat":
                choice: dict[str, Any] = {"index": i, "delta": {"content": piece}, "logprobs": lp,
                                          "finish_reason": None}
            else:
                choice = {"index": i, "text": piece, "logprobs": lp, "finish_reason": None, "stop_reason": None}
            if last:
                choice["finish_reason"] = out.finish_reason
                choice["stop_reason"] = out.stop_reason
            chunk = {**base, "choices": [choice]}
            if continuous_usage:
                chunk["usage"] = running_usage()
            yield step + 1, chunk
    if include_usage:
        yield -1, {**base, "choices": [], "usage": running_usage()}
