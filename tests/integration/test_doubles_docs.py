"""The Python examples in docs/http.md, stubs.md, record-replay.md and timeline.md run as written."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["docs/http.md", "docs/stubs.md", "docs/record-replay.md", "docs/timeline.md"]


def examples() -> list[tuple[str, int, str]]:
    found = []
    for name in DOCS:
        text = (ROOT / name).read_text()
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.DOTALL)):
            if not block.startswith("# not run"):
                found.append((name, i, block))
    return found


@pytest.mark.parametrize("name, index, code", examples(), ids=lambda v: str(v)[:24])
def test_doc_example_runs(name: str, index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples write their cassettes into the current directory
    exec(compile(code, f"{name}[{index}]", "exec"), {"__name__": "docs_example", "os": os})  # noqa: S102
