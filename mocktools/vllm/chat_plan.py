"""From a chat-like request to choices: tools, structured outputs and reasoning in one place.

Shared by chat completions, the Responses API and the Anthropic Messages API: each of those
validates its own wire format, builds a :class:`ChatPlan`, and renders the resulting
``ChoiceOutput``s in its own shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from ..errors import ApiError
from . import channels, json_schema_gen, structured, tools
from .generation import ChoiceOutput, GenerationRequest, Generator
from .tokenizer import EOS_ID, WORDS
from .turns import ToolCall, Turn

#: vLLM's --reasoning-parser names (vllm/reasoning/); all emulated as <think>…</think> models.
REASONING_PARSERS = ("deepseek_r1", "deepseek_v3", "qwen3", "granite", "gemma4", "kimi_k2", "minimax_m2",
                     "glm45", "hunyuan_a13b", "mistral", "olmo3", "openai_gptoss", "seed_oss", "step3",
                     "ernie45", "basic")


REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class AgentConfig:
    """The server flags that decide tool extraction and reasoning."""

    enable_auto_tool_choice: bool = False
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None

    def __post_init__(self) -> None:
        if self.enable_auto_tool_choice and not self.tool_call_parser:
            raise ValueError("--enable-auto-tool-choice requires --tool-call-parser")
        if self.tool_call_parser is not None and self.tool_call_parser not in tools.TOOL_PARSERS:
            raise ValueError(f"unknown tool_call_parser {self.tool_call_parser!r}; one of {tools.TOOL_PARSERS}")
        if self.reasoning_parser is not None and self.reasoning_parser not in REASONING_PARSERS:
            raise ValueError(f"unknown reasoning_parser {self.reasoning_parser!r}; one of {REASONING_PARSERS}")

    @property
    def tools_enabled(self) -> bool:
        return self.enable_auto_tool_choice and self.tool_call_parser is not None


@dataclass
class ChatPlan:
    """The validated agent-side of one request."""

    messages: list[dict]
    tools: tools.ToolConfig = field(default_factory=tools.ToolConfig)
    constraint: structured.Constraint | None = None
    include_reasoning: bool = True
    reasoning: bool = False  # the server has a reasoning parser
    thinking: bool = True  # the default reply thinks (off: chat_template_kwargs.enable_thinking false)
    deferred: ApiError | None = None  # raised when the engine "compiles" the request

    @property
    def template(self) -> list[dict]:
        return tools.template_messages(self.messages, self.tools.tools)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tools.tools:
            out.update(self.tools.describe())
        if self.constraint is not None:
            out["format"] = self.constraint.describe()
        return out


def plan_chat(body: dict, messages: list[dict], agent: AgentConfig) -> ChatPlan:
    """Validate tools, structured outputs and reasoning options of a chat completion body."""
    cfg = tools.parse_chat_tools(body, agent.tools_enabled)
    constraint = structured.parse_chat(body, cfg)
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise tools.schema_error(f"Input should be {', '.join(repr(e) for e in REASONING_EFFORTS)}",
                                 "reasoning_effort")
    include = body.get("include_reasoning", True)
    if not isinstance(include, bool):
        raise tools.schema_error("Input should be a valid boolean", "include_reasoning")
    plan = ChatPlan(tools.normalize_messages(messages), cfg, constraint, include, agent.reasoning_parser is not None)
    kwargs = body.get("chat_template_kwargs")
    plan.thinking = not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False) and effort != "none"
    if constraint is not None:
        plan.deferred = structured.compile_error(constraint)
    return plan


def default_turn(plan: ChatPlan, req: GenerationRequest, gen: Generator) -> Turn:
    """What the mock model says unprompted: calls chosen by tools.choose_calls, else constrained or
    generated text; reasoning first when the server has a reasoning parser."""
    return _default_turn(plan, req, gen, whole=True)[0]


def _default_turn(plan: ChatPlan, req: GenerationRequest, gen: Generator,
                  whole: bool = False) -> tuple[Turn, list[int] | None]:
    """The default turn, and its content's token ids when they are the generator's own (the text
    re-encodes to exactly these, so the token loop need not encode it again). Unless `whole`,
    such a content is given as its ids alone (the turn's `content` None), only as far as the
    token loop can read them (`max_tokens`)."""
    cfg = plan.tools
    # the tools RNG only matters when a call may be chosen (seeding one costs as much as a token loop)
    names = tools.choose_calls(cfg, plan.messages, gen.rng("tools", req)) if cfg.extract and cfg.tools \
        or cfg.choice == "named" and cfg.named else []
    content: str | None = None
    content_ids: list[int] | None = None
    if not names:
        if plan.constraint is not None:
            content = structured.generate(plan.constraint, gen.rng("structured", req))
        if content is None:
            params = req.params
            if whole or params.ignore_eos:  # the tail after EOS follows the whole reply
                content_ids = gen.default_token_ids(req)[:-1]
            else:  # the token loop ends by max_tokens: the rest of the reply is never seen
                content_ids = gen.default_token_ids(req, params.max_tokens + 1)
                if content_ids and content_ids[-1] == EOS_ID:
                    content_ids.pop()
            content = gen.tokenizer.decode(content_ids) if whole else None
    reasoning = None
    if plan.reasoning and plan.thinking:
        rng = gen.rng("reasoning", req)
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 24))]
        reasoning = " ".join(words).capitalize() + "."
    return Turn(content=content, tool_calls=tuple(ToolCall(n) for n in names), reasoning=reasoning), content_ids


def make_output(plan: ChatPlan, req: GenerationRequest, turn: Turn, gen: Generator,
                content_ids: list[int] | None = None) -> ChoiceOutput:
    """Run one turn through the token loop, labelling each token (see channels.py)."""
    if content_ids is not None and not turn.tool_calls and turn.reasoning is None:
        return gen.generate_ids(req, content_ids)  # text alone: no labels needed (channels None: all text)
    arguments, ids = [], []
    for k, call in enumerate(turn.tool_calls):
        text = call.arguments_json()
        if text is None:
            text = json.dumps(_arguments(plan, call.name, gen.rng(f"args{k}:{call.name}", req)), ensure_ascii=False)
        arguments.append(text)
        ids.append(call.id or tools.new_call_id())
    head, labels, calls = channels.build(turn, gen.tokenizer, extract_tools=plan.tools.extract,
                                         reasoning_parser=plan.reasoning, call_ids=ids, arguments=arguments,
                                         content_ids=content_ids)
    out = gen.generate_ids(req, head)
    out.channels, out.calls = labels, calls
    return out


def _arguments(plan: ChatPlan, name: str, rng: Any) -> Any:
    """Arguments that validate against the tool's schema. A schema nothing satisfies (or no valid
    schema at all) is what vLLM cannot compile when it constrains decoding (``required``/named):
    400; under ``auto`` nothing is constrained and the model writes an empty object."""
    spec = plan.tools.find(name)
    if spec is None:
        return {}
    try:
        return json_schema_gen.generate(spec.schema(), rng)
    except (json_schema_gen.SchemaUnsatisfiable, jsonschema.SchemaError) as exc:
        if plan.tools.choice in ("required", "named"):
            detail = exc.message if isinstance(exc, jsonschema.SchemaError) else str(exc)
            raise ApiError(400, f"Failed to transform json schema into a grammar: {detail}",
                           type="BadRequestError") from None
        return {}


def choices(plan: ChatPlan, base: GenerationRequest, n: int, gen: Generator, scripted: Turn | None,
            make_request: Any) -> list[ChoiceOutput]:
    """``n`` choices: the scripted turn for all, or a default turn per choice."""
    outs = []
    for i in range(n):
        req = base if i == 0 else make_request(i)
        if scripted is not None:
            outs.append(make_output(plan, req, scripted, gen))
        else:
            turn, content_ids = _default_turn(plan, req, gen)
            outs.append(make_output(plan, req, turn, gen, content_ids))
    return outs
