"""docs/testing.md runs: its pytest files through pytester (with the plugin as users load it), the
rest as plain Python."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
FILES = [b for b in BLOCKS if re.match(r"# (test_\w+|conftest)\.py\n", b)]
SCRIPTS = [b for b in BLOCKS if b not in FILES]


def test_doc_has_both_kinds() -> None:
    assert len(FILES) >= 5 and SCRIPTS


def test_doc_pytest_files_pass(pytester: pytest.Pytester) -> None:
    expected = 0
    for block in FILES:
        name = block.split("\n", 1)[0][2:].strip()
        (pytester.path / name).write_text(block, encoding="utf-8")
        expected += len(re.findall(r"^def test_", block, re.M))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=expected)


@pytest.mark.parametrize("index", range(len(SCRIPTS)))
def test_doc_script_runs(index: int) -> None:
    exec(compile(SCRIPTS[index], f"docs/testing.md[{index}]", "exec"), {"__name__": "docs_example"})
