"""The runnable examples in docs/mesh.md run as written."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "mesh.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_runs(index, capsys):
    exec(compile(BLOCKS[index], f"docs/mesh.md#example{index}", "exec"), {"__name__": "__doc_example__"})
    assert len(BLOCKS) >= 2
