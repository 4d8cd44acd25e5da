"""MockVLLMServer: vLLM's OpenAI-compatible HTTP API over the socket-free :class:`Engine`."""
from __future__ import annotations

import argparse
import hmac
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from werkzeug.wrappers import Request, Response

from ..clock import Clock, Duration, SystemClock, to_seconds, to_seconds_or_none
from ..errors import ApiError
from ..http_mock import HTTPMockServer
from ..routing import Router, json_dumps, json_response
from .agentic_routes import register_agentic_routes
from .chat_plan import AgentConfig
from .controls import vllm_controls
from .engine import Engine, _error_type
from .generation import Reply
from .metrics import CONTENT_TYPE
from .protocol import ModelConfig, bad_request
from .script_controls import ScriptControls, script_controls
from .wire import _json_body, sse_response

VLLM_VERSION = "0.33.0"
GUARDED_PREFIXES = ("/v1", "/v2", "/inference", "/cohere")
#: routes that run the generation engine: inline only while it cannot wait (see serves_inline)
GENERATION_ROUTES = frozenset({("/v1/chat/completions", "POST"), ("/v1/completions", "POST"),
                               ("/invocations", "POST"), ("/v1/responses", "POST"), ("/v1/messages", "POST")})
#: a generation request with a larger body (prompt, messages, tools) is served on a worker
INLINE_BODY_LIMIT = 64 * 1024
_ROUTING_TYPES = {"not_found": "Not Found", "method_not_allowed": "Method Not Allowed"}


class MockVLLMServer(ScriptControls, HTTPMockServer):
    """A vLLM server without a GPU: OpenAI-compatible routes, SSE streaming, metrics, faults."""

    name = "vllm"
    default_port = 8000
    protocol = "vLLM OpenAI-compatible API"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, model: str = "mock-llm",
                 served_model_name: str | Sequence[str] | None = None, api_key: str | Sequence[str] | None = None,
                 max_model_len: int = 4096, max_num_seqs: int = 256, embedding_dim: int = 384,
                 ttft: Duration = 0.0, itl: Duration = 0.0, clock: Clock | None = None, seed: int | None = None,
                 journal_limit: int = 10_000, admin_token: str | None = None, verbose: bool = False,
                 max_body_bytes: int | None = None, enable_auto_tool_choice: bool = False,
                 tool_call_parser: str | None = None, reasoning_parser: str | None = None,
                 responses_store: bool = False) -> None:
        names = [served_model_name] if isinstance(served_model_name, str) else list(served_model_name or [model])
        if not names or max_model_len < 2 or embedding_dim < 1:
            raise ValueError("need at least one served model name, max_model_len >= 2 and embedding_dim >= 1")
        self.api_keys = [api_key] if isinstance(api_key, str) else list(api_key or [])
        self.model_config = ModelConfig(names, model, max_model_len, embedding_dim)
        agent = AgentConfig(enable_auto_tool_choice, tool_call_parser, reasoning_parser)
        super().__init__(host, port, clock=clock, seed=seed, journal_limit=journal_limit, admin_token=admin_token,
                         verbose=verbose, max_body_bytes=max_body_bytes)
        self.engine = Engine(self.model_config, clock=self.clock, seed=self.seed, max_num_seqs=max_num_seqs,
                             ttft=to_seconds(ttft, "ttft"), itl=to_seconds(itl, "itl"), wait=self._wait,
                             stop=self.stopping, agent=agent)
        self.responses_store = bool(responses_store)  # vLLM's VLLM_ENABLE_RESPONSES_API_STORE=1
        self.admin.add_controls(vllm_controls(self.engine, self.journal))
        self.admin.add_controls(script_controls(self))

    def _wait(self, seconds: float) -> bool:
        """Sleep on the mock's clock; real sleeps end at once when the mock stops."""
        if seconds > 0:
            if isinstance(self.clock, SystemClock):
                return self.stopping.wait(seconds)
            self.clock.sleep(seconds)
        return self.stopping.is_set()

    # -- controls (see docs/vllm.md) -----------------------------------------------------------
    def set_reply(self, text: str | None) -> None:
        """Answer every request with ``text`` (None: back to generated text)."""
        self.engine.script.set_reply(text)

    def enqueue_replies(self, texts: Sequence[Any]) -> None:
        """Answer the next requests with these (texts, Turns, tool calls or functions), one per request."""
        self.engine.script.enqueue_replies(texts)

    def set_reply_table(self, table: Mapping[str, str] | None) -> None:
        """Replies keyed by prompt: the completion prompt, the last user message, or the rendered chat."""
        self.engine.script.set_reply_table(table)

    def set_reply_function(self, fn: Reply | None) -> None:
        """``fn(GenerationRequest) -> str | None`` decides the reply (None: fall through)."""
        self.engine.script.set_reply_function(fn)

    def set_timing(self, ttft: Duration | None = None, itl: Duration | None = None) -> None:
        """Time to first token and inter-token latency (seconds or timedelta) on the mock's clock."""
        self.engine.set_timing(to_seconds_or_none(ttft, "ttft"), to_seconds_or_none(itl, "itl"))

    def set_max_num_seqs(self, n: int) -> None:
        self.engine.scheduler.set_max_num_seqs(n)

    def set_stream_fault(self, kind: str, after_chunks: int = 0, count: int | None = None, **kwargs: Any) -> None:
        """Mid-stream fault: "error", "truncate", "stall" or "no_done" after K data events.

        Applies to the next ``count`` streams (None: every stream); replaces any earlier stream fault.
        ``stall_seconds`` may be a timedelta.
        """
        if kwargs.get("stall_seconds") is not None:
            kwargs["stall_seconds"] = to_seconds(kwargs["stall_seconds"], "stall_seconds")
        self.engine.set_stream_fault(kind, after_chunks, count, **kwargs)

    def clear_stream_faults(self) -> None:
        self.engine.clear_stream_faults()

    def release_stalls(self) -> None:
        self.engine.release_stalls()

    def set_healthy(self, healthy: bool = True) -> None:
        """An unhealthy engine answers /health and /ping with 503, as a dead vLLM engine does."""
        self.engine.healthy = bool(healthy)

    def metrics_text(self) -> str:
        return self.engine.metrics_text()

    @property
    def received_requests(self) -> list[dict[str, Any]]:
        """Prompt and parameters of every generation request the journal still holds."""
        return [c.meta for c in self.journal.calls() if c.meta]

    def reset_state(self) -> None:
        self.engine.reset()

    def describe_state(self) -> dict[str, Any]:
        return self.engine.describe()

    # -- errors in vLLM's shape ------------------------------------------------------------------
    def error_response(self, status: int, message: str, *, type: str | None = None,
                       headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        if type in _ROUTING_TYPES:  # FastAPI's own answer for unknown routes / methods
            return json_response({"detail": _ROUTING_TYPES[type]}, status, headers)
        if status == 401 and type == "Unauthorized":
            return json_response({"error": "Unauthorized"}, 401, headers)
        vtype = type if type and (type[:1].isupper() or type == "invalid_request_error") else _error_type(status)
        error = {"message": message, "type": vtype, "param": extra.get("param"), "code": status}
        return json_response({"error": error}, status, headers)

    def fault_response(self, request: Request, decision: Any) -> Response:
        """Injected status faults in the shape of the route's API (Anthropic on /v1/messages)."""
        response = super().fault_response(request, decision)
        if request.path.startswith("/v1/messages"):
            from .anthropic_api import error_type
            response.set_data(json_dumps({"type": "error", "error": {"type": error_type(response.status_code),
                                                                     "message": decision.reason}}))
        return response

    # -- routes ----------------------------------------------------------------------------------
    def register_routes(self, router: Router) -> None:
        router = CountingRouter(router, self)  # type: ignore[assignment]
        add = router.add
        # inline=True: the handler only computes (no waits, no user code): see serves_inline
        add("/v1/models", self._guard(self.list_models), inline=True)
        add("/v1/chat/completions", self._guard(self.chat_completions), methods=["POST"])
        add("/v1/completions", self._guard(self.completions), methods=["POST"])
        add("/v1/embeddings", self._guard(self.create_embeddings), methods=["POST"], inline=True)
        add("/tokenize", self.tokenize, methods=["POST"], inline=True)
        add("/detokenize", self.detokenize, methods=["POST"], inline=True)
        add("/health", self.health, inline=True)
        add("/ping", self.health, methods=["GET", "POST"], inline=True)
        add("/version", lambda request: {"version": VLLM_VERSION}, inline=True)
        add("/load", lambda request: {"server_load": self.engine.in_flight}, inline=True)
        add("/metrics", lambda request: Response(self.metrics_text(), content_type=CONTENT_TYPE), inline=True)
        add("/invocations", self.invocations, methods=["POST"])
        register_agentic_routes(self, router)

    def serves_inline(self, environ: dict[str, Any]) -> bool:
        """The routes marked inline, and the generation routes (chat, completions, SageMaker's
        invocations, Responses and Messages creation) while the engine says a request arriving now
        cannot wait (Engine.never_waits: no simulated time, no reply function, no stall fault, a
        scheduler that admits it now); either only with a body of at most INLINE_BODY_LIMIT bytes (tokenizing a
        long prompt is CPU the loop should not spend)."""
        if self._doubles_active:
            return False
        method = environ.get("REQUEST_METHOD")
        if method == "POST":
            length = str(environ.get("CONTENT_LENGTH") or "")
            if not (length.isdigit() and int(length) <= INLINE_BODY_LIMIT) \
                    and (length or environ.get("wsgi.input_terminated")):  # (no length, not chunked: empty)
                return False
        if self.router.inline(environ):
            return True
        return (environ.get("PATH_INFO"), method) in GENERATION_ROUTES and self.engine.never_waits()

    def _guard(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """vLLM's --api-key middleware: Bearer token required on /v1 routes when keys are set."""
        def guarded(request: Request, **kwargs: Any) -> Any:
            environ = request.environ  # (read directly: the lazy Request is not built for it)
            if self.api_keys and environ.get("REQUEST_METHOD") != "OPTIONS":
                auth = environ.get("HTTP_AUTHORIZATION", "")
                scheme, _, token = auth.partition(" ")
                if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.encode(), k.encode())
                                                         for k in self.api_keys):
                    raise ApiError(401, "Unauthorized", type="Unauthorized")
            return handler(request, **kwargs)
        return guarded

    def list_models(self, request: Request) -> dict[str, Any]:
        cfg, created = self.model_config, int(self.clock.time())
        cards = [{"id": name, "object": "model", "created": created, "owned_by": "vllm", "root": cfg.root,
                  "parent": None, "max_model_len": cfg.max_model_len,
                  "permission": [{"id": f"modelperm-{i:032x}", "object": "model_permission", "created": created,
                                  "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
                                  "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
                                  "organization": "*", "group": None, "is_blocking": False}]}
                 for i, name in enumerate(cfg.served_model_names)]
        return {"object": "list", "data": cards}

    def chat_completions(self, request: Request) -> Any:
        return self._generate(request, "chat")

    def completions(self, request: Request) -> Any:
        return self._generate(request, "completion")

    def _generate(self, request: Request, kind: str, body: dict | None = None) -> Any:
        body = _json_body(request) if body is None else body
        job = self.engine.prepare(kind, body, request.environ.get("HTTP_X_REQUEST_ID") or None)
        request.environ["mocktools.meta"] = job.meta
        if not job.stream:
            # a plain dict (the router answers it without a werkzeug Response), or a paced body
            return self.engine.answer(job, request.environ, lambda: self.engine.render_answer(job))
        return sse_response(request, lambda alive, truncate: self.engine.stream(job, alive, truncate=truncate))

    def create_embeddings(self, request: Request) -> Any:
        body = _json_body(request)
        result = self.engine.embeddings(body)
        request.environ["mocktools.meta"] = {"kind": "embeddings", "model": result["model"],
                                             "input": body.get("input"),
                                             "encoding_format": body.get("encoding_format")}
        return result

    def tokenize(self, request: Request) -> dict[str, Any]:
        body = _json_body(request)
        self.model_config.resolve(body.get("model"))
        tok = self.engine.tokenizer
        if "messages" in body:
            from .protocol import chat_messages, get_bool
            from .tools import normalize_messages, parse_chat_tools, template_messages
            tools = parse_chat_tools(body, True).tools if body.get("tools") else []
            text = tok.apply_chat_template(template_messages(normalize_messages(chat_messages(body)), tools),
                                           add_generation_prompt=get_bool(body, "add_generation_prompt", True))
            ids = tok.encode(text, add_special_tokens=get_bool(body, "add_special_tokens", False))
        elif isinstance(body.get("prompt"), str):
            from .protocol import get_bool
            ids = tok.encode(body["prompt"], add_special_tokens=get_bool(body, "add_special_tokens", True))
        else:
            raise bad_request("tokenize needs 'prompt' (a string) or 'messages'", "prompt")
        want_strs = body.get("return_token_strs") is True
        return {"count": len(ids), "max_model_len": self.model_config.max_model_len, "tokens": ids,
                "token_strs": [tok.token_str(t) for t in ids] if want_strs else None}

    def detokenize(self, request: Request) -> dict[str, Any]:
        body = _json_body(request)
        self.model_config.resolve(body.get("model"))
        tokens = body.get("tokens")
        tok = self.engine.tokenizer
        if not isinstance(tokens, list) or not all(tok.is_valid(t) for t in tokens):
            raise bad_request(f"tokens must be a list of token ids below {tok.vocab_size}", "tokens")
        return {"prompt": tok.decode(tokens)}

    def health(self, request: Request) -> Response:
        return Response(b"", status=200 if self.engine.healthy else 503)

    def invocations(self, request: Request) -> Any:
        """SageMaker's entry point: dispatch by body shape (not guarded by --api-key)."""
        body = _json_body(request)
        if "messages" in body:
            return self._generate(request, "chat", body)
        if "prompt" in body:
            return self._generate(request, "completion", body)
        if "input" in body:
            return self.engine.embeddings(body)
        raise bad_request("Cannot find suitable handler for request: expected 'messages', 'prompt' or 'input'")

    # -- CLI -------------------------------------------------------------------------------------
    @classmethod
    def cli_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", default="mock-llm", help="model path or id reported as 'root'")
        parser.add_argument("--served-model-name", nargs="+", default=None, help="names clients may use")
        parser.add_argument("--api-key", nargs="+", default=None,
                            help="require Bearer key(s) on /v1 routes (default: $VLLM_API_KEY)")
        parser.add_argument("--max-model-len", type=int, default=4096)
        parser.add_argument("--max-num-seqs", type=int, default=256, help="max concurrently running sequences")
        parser.add_argument("--embedding-dim", type=int, default=384)
        parser.add_argument("--ttft", type=float, default=0.0, help="time to first token, seconds")
        parser.add_argument("--itl", type=float, default=0.0, help="inter-token latency, seconds")
        parser.add_argument("--enable-auto-tool-choice", action="store_true",
                            help="extract tool calls (needs --tool-call-parser)")
        parser.add_argument("--tool-call-parser", default=None, help="e.g. hermes")
        parser.add_argument("--reasoning-parser", default=None, help="e.g. deepseek_r1, qwen3")
        parser.add_argument("--responses-store", action="store_true",
                            help="store Responses (vLLM's VLLM_ENABLE_RESPONSES_API_STORE=1)")

    @classmethod
    def from_cli(cls, args: argparse.Namespace, **kwargs: Any) -> MockVLLMServer:
        api_key = args.api_key or ([os.environ["VLLM_API_KEY"]] if os.environ.get("VLLM_API_KEY") else None)
        return cls(model=args.model, served_model_name=args.served_model_name, api_key=api_key,
                   max_model_len=args.max_model_len, max_num_seqs=args.max_num_seqs,
                   embedding_dim=args.embedding_dim, ttft=args.ttft, itl=args.itl,
                   enable_auto_tool_choice=args.enable_auto_tool_choice, tool_call_parser=args.tool_call_parser,
                   reasoning_parser=args.reasoning_parser,
                   responses_store=args.responses_store or os.environ.get("VLLM_ENABLE_RESPONSES_API_STORE") == "1",
                   **kwargs)


class CountingRouter:
    """Adds routes that count into ``http_requests_total`` as vLLM's instrumentator does (it leaves
    out /metrics, /health, /ping, /load and /version)."""

    EXCLUDED = ("/metrics", "/health", "/ping", "/load", "/version")

    def __init__(self, router: Router, mock: MockVLLMServer) -> None:
        self.router, self.mock = router, mock

    def add(self, rule: str, handler: Callable[..., Any], methods: Sequence[str] = ("GET",), *,
            inline: bool = False) -> None:
        if rule in self.EXCLUDED:
            self.router.add(rule, handler, methods, inline=inline)
            return
        template = rule.replace("<", "{").replace(">", "}")

        def counted(request: Request, **kwargs: Any) -> Any:
            status = 500
            try:
                result = handler(request, **kwargs)
                status = result.status_code if isinstance(result, Response) else (
                    result[1] if isinstance(result, tuple) else 200)
                return result
            except ApiError as exc:
                status = exc.status
                raise
            finally:
                self.mock.engine.metrics.observe_http(template, request.environ.get("REQUEST_METHOD", "GET"), status)
        self.router.add(rule, counted, methods, inline=inline)
