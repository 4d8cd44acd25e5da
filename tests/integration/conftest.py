"""Fixtures shared by integration modules.

vLLM modules take the pytest plugin's ``mock_vllm``, configured per module with
``pytestmark = pytest.mark.mocktools(vllm={...})`` (a fresh mock per test, its full ``check()``
at teardown), and ``vllm_client``: the official openai client on that mock.
"""
from __future__ import annotations

import openai
import pytest

from mocktools.vllm import MockVLLMServer


@pytest.fixture
def vllm_client(mock_vllm: MockVLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=mock_vllm.url + "/v1", api_key="EMPTY", max_retries=0, timeout=10)
