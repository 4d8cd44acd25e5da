"""The Python examples in docs/redis.md and docs/writing-a-mock.md run as written."""
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCKS = [(name, i, block) for name in ("redis.md", "writing-a-mock.md")
          for i, block in enumerate(re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), re.DOTALL))]


def test_docs_have_examples():
    assert sum(1 for name, _, _ in BLOCKS if name == "redis.md") >= 4
    assert any(name == "writing-a-mock.md" for name, _, _ in BLOCKS)


@pytest.mark.parametrize("name, index, code", BLOCKS, ids=lambda v: str(v)[:24])
def test_doc_example_runs(name, index, code):
    exec(compile(code, f"docs/{name}[{index}]", "exec"), {"__name__": "docs_example"})  # noqa: S102 - the docs are ours
