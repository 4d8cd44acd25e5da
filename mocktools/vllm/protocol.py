"""Request validation for the OpenAI-compatible routes, in vLLM's words (400 BadRequestError etc.).

Pure functions over parsed JSON: the wire layer calls them, unit tests call them directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from .generation import SamplingParams
from .tokenizer import Tokenizer

MAX_N = 128
MAX_LOGPROBS = 20


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, type="BadRequestError", param=param)


@dataclass
class ModelConfig:
    """What the mock serves: names clients may use, the model path, limits."""

    served_model_names: list[str]
    root: str
    max_model_len: int = 4096
    embedding_dim: int = 384

    @property
    def name(self) -> str:
        return self.served_model_names[0]

    def resolve(self, requested: Any) -> str:
        """The served name for a request's ``model``; absent means the default (a vLLM extension)."""
        if requested is None:
            return self.name
        if isinstance(requested, str) and requested in self.served_model_names:
            return self.name
        raise ApiError(404, f"The model `{requested}` does not exist. Valid aliases: "
                       f"{', '.join(self.served_model_names)}.", type="NotFoundError", param="model")


def get_int(body: dict, key: str, default: int | None, *, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise bad_request(f"{key} must be an integer, got {value!r}", key)
    if minimum is not None and value < minimum:
        raise bad_request(f"{key} must be at least {minimum}, got {value}.", key)
    if maximum is not None and value > maximum:
        raise bad_request(f"{key} must be at most {maximum}, got {value}.", key)
    return value


def get_float(body: dict, key: str, default: float | None, *, minimum: float | None = None,
              maximum: float | None = None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{key} must be a number, got {value!r}", key)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise bad_request(f"{key} must be in [{minimum}, {maximum}], got {value}.", key)
    return float(value)


def get_bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean, got {value!r}", key)
    return value


def get_stop(body: dict) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return [s for s in stop if s]
    raise bad_request("stop must be a string or a list of strings", "stop")


def stream_settings(body: dict) -> tuple[bool, bool, bool]:
    """(stream, include_usage, continuous_usage_stats)."""
    stream = get_bool(body, "stream", False)
    options = body.get("stream_options")
    if options is None:
        return stream, False, False
    if not stream:
        raise bad_request("Stream options can only be defined when `stream=True`.", "stream_options")
    if not isinstance(options, dict):
        raise bad_request("stream_options must be an object", "stream_options")
    return stream, get_bool(options, "include_usage", False), get_bool(options, "continuous_usage_stats", False)


def sampling_params(body: dict, kind: str, prompt_tokens: int, max_model_len: int,
                    tokenizer: Tokenizer) -> SamplingParams:
    """Validate the sampling fields of a chat or completion request."""
    if prompt_tokens >= max_model_len:
        raise bad_request(f"This model's maximum context length is {max_model_len} tokens. However, your "
                          f"request has {prompt_tokens} input tokens. Please reduce the length of the input "
                          "messages.", "input_tokens")
    key = "max_completion_tokens" if kind == "chat" and body.get("max_completion_tokens") is not None \
        else "max_tokens"
    max_tokens = get_int(body, key, None, minimum=1)
    if max_tokens is None:
        max_tokens = max_model_len - prompt_tokens
    elif prompt_tokens + max_tokens > max_model_len:
        raise bad_request(f"This model's maximum context length is {max_model_len} tokens. However, you "
                          f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, "
                          f"{max_tokens} in the completion). Please reduce the length of the messages or "
                          "completion.", key)
    get_float(body, "top_p", None, minimum=0.0, maximum=1.0)
    get_float(body, "presence_penalty", None, minimum=-2.0, maximum=2.0)
    get_float(body, "frequency_penalty", None, minimum=-2.0, maximum=2.0)
    stop_ids = body.get("stop_token_ids") or []
    if not isinstance(stop_ids, list) or not all(tokenizer.is_valid(t) for t in stop_ids):
        raise bad_request("stop_token_ids must be a list of token ids in the vocabulary", "stop_token_ids")
    if kind == "chat":
        want = get_bool(body, "logprobs", False)
        top = get_int(body, "top_logprobs", None, minimum=0, maximum=MAX_LOGPROBS)
        if top is not None and top > 0 and not want:
            raise bad_request("when using `top_logprobs`, `logprobs` must be set to true.", "top_logprobs")
        logprobs = (top or 0) if want else None
    else:
        logprobs = get_int(body, "logprobs", None, minimum=0, maximum=MAX_LOGPROBS)
    return SamplingParams(
        max_tokens=max_tokens,
        n=get_int(body, "n", 1, minimum=1, maximum=MAX_N) or 1,
        temperature=(get_float(body, "temperature", 1.0, minimum=0.0) or 0.0) if body.get("temperature") is not None
        else 1.0,
        seed=get_int(body, "seed", None),
        stop=get_stop(body),
        stop_token_ids=list(stop_ids),
        ignore_eos=get_bool(body, "ignore_eos", False),
        include_stop_str_in_output=get_bool(body, "include_stop_str_in_output", False),
        logprobs=logprobs,
    )


def chat_messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list of message objects", "messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise bad_request(f"messages[{i}] must be an object with a string 'role'", "messages")
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise bad_request(f"messages[{i}].content must be a string, a list of parts or null", "messages")
    return messages


def completion_prompts(body: dict, tokenizer: Tokenizer) -> list[tuple[str, list[int]]]:
    """The prompts of a completion request as (text, token ids with BOS)."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [(prompt, tokenizer.encode(prompt, add_special_tokens=True))]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return [(p, tokenizer.encode(p, add_special_tokens=True)) for p in prompt]
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return [_id_prompt(prompt, tokenizer)]
        if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
            return [_id_prompt(p, tokenizer) for p in prompt]
    raise bad_request("prompt must be a string, a list of strings, a list of token ids or a list of lists "
                      "of token ids", "prompt")


def _id_prompt(ids: list[int], tokenizer: Tokenizer) -> tuple[str, list[int]]:
    bad = [t for t in ids if not tokenizer.is_valid(t)]
    if bad:
        raise bad_request(f"Token id {bad[0]} is out of vocabulary", "prompt")
    return tokenizer.decode(ids), list(ids)


def embedding_inputs(body: dict, tokenizer: Tokenizer) -> list[tuple[str, int]]:
    """(text key, token count) per input; token-id inputs are keyed by their decoded text."""
    value = body.get("input")
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list) and value and all(isinstance(t, int) and not isinstance(t, bool)
                                                    for t in value):
        items = [value]
    elif isinstance(value, list) and value:
        items = value
    else:
        raise bad_request("input must be a string, a list of strings or token ids, and not empty", "input")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, tokenizer.count(item, add_special_tokens=True)))
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool)
                                                     for t in item):
            text, ids = _id_prompt(item, tokenizer)
            out.append((text, len(ids)))
        else:
            raise bad_request("input items must be strings or non-empty lists of token ids", "input")
    return out
