"""Types as a user sees them: `mypy --strict` on a script using every mock and on a typed test module,
and plain mypy on the README's first example (the lazy package namespace must not hide the classes)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[2]


def _mypy(*args: str) -> tuple[str, int]:
    # imports followed silently: what a user sees with mocktools installed in site-packages
    out, err, status = api.run(["--follow-imports=silent", "--no-error-summary", "--config-file",
                                str(ROOT / "pyproject.toml"), *args])
    return out + err, status


@pytest.mark.timeout(120)
def test_user_script_and_typed_fixtures_pass_mypy_strict() -> None:
    out, status = _mypy("--strict", str(ROOT / "tests/typing/user_script.py"),
                        str(ROOT / "tests/typing/test_user_fixtures.py"))
    assert status == 0, out


@pytest.mark.timeout(60)
def test_user_script_runs() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "tests/typing/user_script.py")], capture_output=True,
                            text=True, timeout=50, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.timeout(120)
def test_readme_first_example_type_checks(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    assert "MockOFDServer" in first
    script = tmp_path / "readme_example.py"
    script.write_text(first + "\n\ndef typed(mock: MockOFDServer) -> str:\n    return mock.url\n", encoding="utf-8")
    out, status = _mypy("--strict", str(script))
    assert status == 0, out
