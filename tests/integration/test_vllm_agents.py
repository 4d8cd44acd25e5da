"""Agent frameworks people run against vLLM, unmodified: pydantic-ai, openai-agents, langchain-openai.

Each runs a tool-calling loop that ends, with the mock's default (unscripted) behaviour: it calls
the tool the prompt names with schema-valid arguments, then answers in text (or, when the framework
forces a tool for its structured result, calls that output tool).
"""
import asyncio

import pydantic
import pytest

from mocktools.vllm import MockVLLMServer

# mock_vllm (the pytest plugin), a fresh mock per test configured so
pytestmark = pytest.mark.mocktools(vllm={"seed": 7, "enable_auto_tool_choice": True, "tool_call_parser": "hermes"})


class Forecast(pydantic.BaseModel):
    city: str
    celsius: int


def test_pydantic_ai_agent_with_tool_and_structured_result(mock_vllm):
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("mock-llm", provider=OpenAIProvider(base_url=mock_vllm.url + "/v1", api_key="EMPTY"))
    agent = Agent(model, output_type=Forecast, retries=2)
    calls = []

    @agent.tool_plain
    def get_temperature(city: str) -> int:
        """Current temperature of a city in Celsius."""
        calls.append(city)
        return 21

    result = agent.run_sync("Use get_temperature for Paris, then give the forecast.")
    assert isinstance(result.output, Forecast) and len(calls) == 1 and isinstance(calls[0], str)
    sent = mock_vllm.received_requests
    assert len(sent) == 2 and "get_temperature" in sent[0]["tools"] and sent[1]["messages"][-1]["role"] == "tool"


def test_pydantic_ai_streamed_text_agent(mock_vllm):
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel("mock-llm", provider=OpenAIProvider(base_url=mock_vllm.url + "/v1", api_key="EMPTY"))
    agent = Agent(model)
    seen = []

    @agent.tool_plain
    def lookup(term: str) -> str:
        """Look a term up."""
        seen.append(term)
        return "a small mammal"

    async def go() -> str:
        async with agent.run_stream("Please lookup 'fox'.") as run:
            return await run.get_output()

    text = asyncio.run(go())
    assert seen and isinstance(text, str) and text


def test_openai_agents_loop_ends(mock_vllm):
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        RunConfig,
        Runner,
        function_tool,
    )
    from openai import AsyncOpenAI

    used = []

    @function_tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        used.append(city)
        return "sunny, 18C"

    client = AsyncOpenAI(base_url=mock_vllm.url + "/v1", api_key="EMPTY", max_retries=0)
    agent = Agent(name="weather", instructions="Answer briefly.", tools=[get_weather],
                  model=OpenAIChatCompletionsModel(model="mock-llm", openai_client=client))
    result = Runner.run_sync(agent, "Call get_weather for Paris.", run_config=RunConfig(tracing_disabled=True))
    assert used and isinstance(result.final_output, str) and result.final_output
    assert len(mock_vllm.received_requests) == 2


def test_langchain_tool_loop_ends(mock_vllm):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    llm = ChatOpenAI(model="mock-llm", base_url=mock_vllm.url + "/v1", api_key="EMPTY", max_retries=0)
    bound = llm.bind_tools([multiply])
    messages = [HumanMessage("Use multiply on 6 and 7.")]
    for _ in range(4):
        ai = bound.invoke(messages)
        messages.append(ai)
        if not ai.tool_calls:
            break
        for call in ai.tool_calls:
            messages.append(ToolMessage(str(multiply.invoke(call["args"])), tool_call_id=call["id"]))
    assert isinstance(messages[2], ToolMessage) and not messages[-1].tool_calls and messages[-1].content
    streamed = list(bound.stream([HumanMessage("Use multiply on 2 and 3.")]))
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged = merged + chunk
    assert merged.tool_calls[0]["name"] == "multiply" and set(merged.tool_calls[0]["args"]) == {"a", "b"}


def test_openai_agents_on_the_responses_api_streamed():
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
    from openai import AsyncOpenAI

    used = []

    @function_tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        used.append(city)
        return "sunny"

    with MockVLLMServer(enable_auto_tool_choice=True, tool_call_parser="hermes", reasoning_parser="qwen3") as m:
        async def go():
            client = AsyncOpenAI(base_url=m.url + "/v1", api_key="EMPTY", max_retries=0)
            agent = Agent(name="w", instructions="Be brief.", tools=[get_weather],
                          model=OpenAIResponsesModel(model="mock-llm", openai_client=client))
            run = Runner.run_streamed(agent, "Call get_weather for Rome.", run_config=RunConfig(tracing_disabled=True))
            kinds = {event.type async for event in run.stream_events()}
            return run, kinds

        run, kinds = asyncio.run(go())
        assert used and isinstance(run.final_output, str) and run.final_output and "raw_response_event" in kinds
        second = m.journal.calls("/v1/responses")[1].json
        assert [item.get("type") for item in second["input"]][-2:] == ["function_call", "function_call_output"]
        m.check()
