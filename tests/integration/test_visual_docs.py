"""The picture examples in docs/otlp.md run as written (docs/mesh.md's run in test_mesh_docs.py),
and the pictures the docs show exist and are small, valid SVG."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _section(doc: str, heading: str) -> str:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    return text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_otlp_picture_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _section("otlp.md", "Pictures: trace waterfalls"), re.DOTALL)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/otlp.md#pictures", "exec"), {"__name__": "docs_example"})  # noqa: S102


@pytest.mark.parametrize(("doc", "heading"), [("mesh.md", "Pictures: the graph, trace waterfalls, a report"),
                                               ("otlp.md", "Pictures: trace waterfalls")])
def test_docs_show_small_valid_pictures(doc: str, heading: str) -> None:
    images = re.findall(r"!\[[^\]]+\]\((img/[^)]+\.svg)\)", _section(doc, heading))
    assert images
    for rel in images:
        path = ROOT / "docs" / rel
        assert path.stat().st_size < 60_000, f"{rel} should stay small"
        assert ET.parse(path).getroot().tag == "{http://www.w3.org/2000/svg}svg"
