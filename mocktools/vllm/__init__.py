"""MockVLLMServer: a vLLM / OpenAI-compatible inference server without a GPU."""
from .engine import Engine, StreamFault
from .generation import GenerationRequest, SamplingParams
from .mock import MockVLLMServer
from .tokenizer import Tokenizer

__all__ = ["MockVLLMServer", "Engine", "StreamFault", "GenerationRequest", "SamplingParams", "Tokenizer"]
