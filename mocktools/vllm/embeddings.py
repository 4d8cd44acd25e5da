"""Deterministic embeddings: the same input always maps to the same unit vector."""
from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from collections.abc import Sequence
from typing import Any


def embed(key: str, dimensions: int, seed: int = 0) -> list[float]:
    """A unit-length vector derived from ``key`` (text or a token-id list rendered as text).

    Values are rounded through float32 so float and base64 encodings carry the same numbers.
    """
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode("utf-8", "surrogatepass")).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    vec = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return to_float32([v / norm for v in vec])


def to_float32(values: Sequence[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def encode_base64(values: Sequence[float]) -> str:
    """base64 of little-endian float32 bytes, as vLLM and OpenAI send with encoding_format=base64."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")


def decode_base64(data: str) -> list[float]:
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def embeddings_response(config: Any, tok: Any, seed: int, body: dict, rid: str, created: int) -> dict[str, Any]:
    """An /v1/embeddings answer (``dimensions`` cuts and renormalises, as Matryoshka models do)."""
    from . import protocol, responses

    model = config.resolve(body.get("model"))
    inputs = protocol.embedding_inputs(body, tok)
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise protocol.bad_request(f"encoding_format must be 'float' or 'base64', got {fmt!r}", "encoding_format")
    dim = config.embedding_dim
    dims = protocol.get_int(body, "dimensions", None, minimum=1, maximum=dim)
    data = []
    for i, (key, _) in enumerate(inputs):
        vec = embed(key, dim, seed)
        if dims is not None and dims < dim:
            vec = _renormalize(vec[:dims])
        data.append({"index": i, "object": "embedding", "embedding": encode_base64(vec) if fmt == "base64" else vec})
    tokens = sum(n for _, n in inputs)
    return {"id": rid, "object": "list", "created": created, "model": model, "data": data,
            "usage": responses.usage(tokens, 0)}


def _renormalize(vec: list[float]) -> list[float]:
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return to_float32([v / norm for v in vec])
