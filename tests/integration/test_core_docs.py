"""The Python examples in the README and the core docs run as written."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/controls.md", "docs/ofd.md", "docs/serving.md"]


def examples() -> list[tuple[str, int, str]]:
    found = []
    for name in DOCS:
        text = (ROOT / name).read_text()
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S)):
            if not block.startswith("# not run"):
                found.append((name, i, block))
    return found


@pytest.mark.parametrize("name, index, code", examples(), ids=lambda v: str(v)[:20])
def test_doc_example_runs(name: str, index: int, code: str) -> None:
    exec(compile(code, f"{name}[{index}]", "exec"), {"__name__": "docs_example"})
