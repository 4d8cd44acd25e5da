#!/usr/bin/env python3
"""Start the vLLM mock on port 8000 for manual testing and print every request it receives.

    python scripts/run_vllm.py                                   # model "mock-llm"
    python scripts/run_vllm.py --served-model-name llama a2      # names clients may send
    python scripts/run_vllm.py --api-key secret --ttft 0.2 --itl 0.03
    python scripts/run_vllm.py --reply "Hello from the mock"     # every answer is this text
    python scripts/run_vllm.py --stream-fault stall --after-chunks 3

Then e.g. `curl localhost:8000/v1/chat/completions -H 'Content-Type: application/json'
-d '{"messages":[{"role":"user","content":"hi"}],"stream":true}'`.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mocktools.cli import Parser, add_fault_arguments, apply_fault_arguments, port_number  # noqa: E402
from mocktools.vllm import MockVLLMServer  # noqa: E402


def main() -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=MockVLLMServer.default_port)
    parser.add_argument("--seed", type=int, default=0)
    MockVLLMServer.cli_arguments(parser)
    parser.add_argument("--reply", default=None, help="answer every request with this text")
    add_fault_arguments(parser)
    parser.add_argument("--stream-fault", choices=["error", "truncate", "stall", "no_done"], default=None)
    parser.add_argument("--after-chunks", type=int, default=2)
    args = parser.parse_args()

    mock = MockVLLMServer.from_cli(args, host=args.host, port=args.port, seed=args.seed)
    if args.reply is not None:
        mock.set_reply(args.reply)
    apply_fault_arguments(mock, args)
    if args.stream_fault:
        mock.set_stream_fault(args.stream_fault, after_chunks=args.after_chunks)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    mock.start()
    names = ", ".join(mock.model_config.served_model_names)
    print(f"Mock vLLM listening on {mock.url}  (models: {names}; Ctrl-C to stop)")
    print(f"  OpenAI base_url: {mock.url}/v1   metrics: {mock.url}/metrics   controls: {mock.url}/_mock/",
          flush=True)
    seen = 0
    try:
        while not stop.is_set():
            try:
                mock.wait_for_calls(seen + 1, timeout=0.5)
            except TimeoutError:
                continue
            for record in mock.journal.calls()[-(mock.journal.count() - seen):]:
                detail = json.dumps(record.meta, ensure_ascii=False)[:300] if record.meta else record.text[:200]
                print(f"#{record.seq} {record.method} {record.path} -> {record.status} {record.fault or ''} {detail}",
                      flush=True)
            seen = mock.journal.count()
    finally:
        mock.stop()
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
