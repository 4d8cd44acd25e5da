"""The Python examples in docs/vllm.md run as written."""
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "vllm.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_doc_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_vllm_doc_example_runs(index):
    exec(compile(BLOCKS[index], f"docs/vllm.md[{index}]", "exec"), {"__name__": "docs_example"})
