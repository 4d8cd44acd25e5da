"""Throughput of MockVLLMServer: chat completions per second and streamed tokens per second.

    .venv/bin/python -m bench.bench_vllm [--seconds 4]

Lines measured (client and server share the machine; zero simulated latency unless stated):
  non-streaming chat completions with raw HTTP (keep-alive `requests.Session`, 1 and 4 threads),
  the same through the official openai client, streamed chat (256 tokens, include_usage) counted
  in tokens/s, embeddings, and a streamed run with itl=5 ms to show the timing model holds.
  Agent-era streams, each beside plain chat of the same length (64 tokens, raw HTTP, 1 thread):
  a chat stream of one tool call, two parallel calls, a Responses stream, a Responses stream with a
  function call, an Anthropic Messages stream; and the same through the official clients.
Prints numbers; asserts nothing.
"""
from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

import openai
import requests

from mocktools.vllm import MockVLLMServer

from ._load import run_threads_for

MSGS = [{"role": "user", "content": "Tell me a story about a fox."}]


def run_for(seconds: float, threads: int, work: Callable[[dict], int]) -> tuple[int, int, float]:
    """Call `work(local_state)` repeatedly from `threads` threads; returns (calls, units, elapsed)."""
    calls, units = [0] * threads, [0] * threads

    def worker(i: int, stop: threading.Event) -> None:
        state: dict = {}
        while not stop.is_set():
            units[i] += work(state)
            calls[i] += 1

    elapsed = run_threads_for(seconds, threads, worker)
    return sum(calls), sum(units), elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    sec = args.seconds
    with MockVLLMServer(served_model_name="bench", journal_limit=1000, enable_auto_tool_choice=True,
                        tool_call_parser="hermes") as mock:
        url = mock.url

        def raw_chat(state: dict) -> int:
            s = state.get("s") or state.setdefault("s", requests.Session())
            r = s.post(url + "/v1/chat/completions", json={"model": "bench", "messages": MSGS, "max_tokens": 16})
            assert r.status_code == 200, r.text
            return r.json()["usage"]["completion_tokens"]

        def sdk_chat(state: dict) -> int:
            c = state.get("c") or state.setdefault("c", openai.OpenAI(base_url=url + "/v1", api_key="x"))
            return c.chat.completions.create(model="bench", messages=MSGS, max_tokens=16).usage.completion_tokens

        def sdk_stream(state: dict) -> int:
            c = state.get("c") or state.setdefault("c", openai.OpenAI(base_url=url + "/v1", api_key="x"))
            tokens = 0
            for chunk in c.chat.completions.create(model="bench", messages=MSGS, max_tokens=256, stream=True,
                                                   extra_body={"ignore_eos": True},
                                                   stream_options={"include_usage": True}):
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
            return tokens

        def raw_stream(state: dict) -> int:
            s = state.get("s") or state.setdefault("s", requests.Session())
            with s.post(url + "/v1/chat/completions", stream=True,
                        json={"model": "bench", "messages": MSGS, "max_tokens": 256, "stream": True,
                              "ignore_eos": True}) as r:
                events = sum(1 for line in r.iter_lines() if line.startswith(b"data: {"))
            return events - 1  # minus the role chunk: one event per token

        def embeddings(state: dict) -> int:
            s = state.get("s") or state.setdefault("s", requests.Session())
            r = s.post(url + "/v1/embeddings", json={"model": "bench", "input": ["a fox", "a dog"],
                                                      "encoding_format": "base64"})
            return len(r.json()["data"])

        agentic_streams(mock, sec)

        for label, threads, work, unit in (
            ("chat, raw HTTP, 1 thread", 1, raw_chat, "tokens"),
            ("chat, raw HTTP, 4 threads", 4, raw_chat, "tokens"),
            ("chat, openai client, 1 thread", 1, sdk_chat, "tokens"),
            ("stream 256 tok, raw HTTP, 1 thread", 1, raw_stream, "tokens"),
            ("stream 256 tok, raw HTTP, 4 threads", 4, raw_stream, "tokens"),
            ("stream 256 tok, openai client, 1 thr", 1, sdk_stream, "tokens"),
            ("embeddings x2 base64, 1 thread", 1, embeddings, "vectors"),
        ):
            calls, units, elapsed = run_for(sec, threads, work)
            print(f"{label:<38} {calls / elapsed:>8,.0f} req/s  {units / elapsed:>10,.0f} {unit}/s", flush=True)

        mock.set_timing(ttft=0.05, itl=0.005)
        calls, units, elapsed = run_for(sec, 4, raw_stream)
        print(f"{'stream 256 tok, itl 5 ms, 4 threads':<38} {calls / elapsed:>8,.1f} req/s  "
              f"{units / elapsed:>10,.0f} tokens/s  (ideal {4 / (0.05 + 255 * 0.005) * 256:,.0f})", flush=True)
        text = mock.metrics_text()
        line = next(x for x in text.splitlines() if x.startswith("vllm:generation_tokens_total"))
        print("metrics:", line)
        mock.check()


TOOL: dict[str, Any] = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"]}}}
TOOL2 = {"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}


def agentic_streams(mock: MockVLLMServer, sec: float) -> None:
    """Streams per second of each agent-era format beside a plain chat stream."""
    from mocktools.vllm.turns import Turn, tool_call

    url = mock.url
    text = " ".join(["word"] * 63)
    one = Turn(tool_calls=(tool_call("get_weather", city="Paris " * 10, days=3),))
    two = Turn(tool_calls=(tool_call("get_weather", city="Paris", days=3), tool_call("get_time", tz="CET")))
    flat = [{"type": "function", **TOOL["function"]}]

    def raw(path: str, body: dict, turn: object) -> Callable[[dict], int]:
        def work(state: dict) -> int:
            mock.set_reply_function(lambda req: turn)
            s = state.get("s") or state.setdefault("s", requests.Session())
            with s.post(url + path, json=body, stream=True) as r:
                return sum(1 for line in r.iter_lines() if line.startswith(b"data: "))
        return work

    chat = {"model": "bench", "messages": MSGS, "stream": True}
    for label, work in (
        ("stream chat text 64 tok", raw("/v1/chat/completions", chat, text)),
        ("stream chat 1 tool call", raw("/v1/chat/completions", {**chat, "tools": [TOOL, TOOL2]}, one)),
        ("stream chat 2 parallel calls", raw("/v1/chat/completions", {**chat, "tools": [TOOL, TOOL2]}, two)),
        ("stream responses text 64 tok", raw("/v1/responses", {"input": "hi", "stream": True}, text)),
        ("stream responses function call", raw("/v1/responses", {"input": "hi", "stream": True, "tools": flat},
                                               one)),
        ("stream anthropic text 64 tok", raw("/v1/messages", {"model": "bench", "max_tokens": 200, "stream": True,
                                                              "messages": MSGS}, text)),
    ):
        calls, events, elapsed = run_for(sec, 1, work)
        print(f"{label:<38} {calls / elapsed:>8,.0f} streams/s {events / elapsed:>10,.0f} events/s", flush=True)

    def sdk_tools(state: dict) -> int:
        mock.set_reply_function(lambda req: one)
        c = state.get("c") or state.setdefault("c", openai.OpenAI(base_url=url + "/v1", api_key="x"))
        with c.chat.completions.stream(model="bench", messages=MSGS, tools=[TOOL, TOOL2]) as st:
            return len(st.get_final_completion().choices[0].message.tool_calls or [])

    def sdk_responses(state: dict) -> int:
        mock.set_reply_function(lambda req: one)
        c = state.get("c") or state.setdefault("c", openai.OpenAI(base_url=url + "/v1", api_key="x"))
        with c.responses.stream(model="bench", input="hi", tools=flat) as st:
            return len(st.get_final_response().output)

    for label, work in (("openai chat.stream, tool call", sdk_tools), ("openai responses.stream, call", sdk_responses)):
        calls, _, elapsed = run_for(sec, 1, work)
        print(f"{label:<38} {calls / elapsed:>8,.0f} streams/s", flush=True)
    mock.set_reply_function(None)


if __name__ == "__main__":
    main()
