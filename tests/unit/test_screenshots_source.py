"""docs/screenshots come from the demo (scripts/screenshots.py), never from a test run's fixtures."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_test_writes_into_the_tracked_screenshots() -> None:
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path == Path(__file__):
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, ast.Module | ast.FunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr)}  # fmt: skip
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docstrings:
                continue
            if node.value == "docs" or "docs/screenshots" in node.value:  # ROOT / "docs" / ..., "docs/screenshots/x.png"
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "tests must save screenshots to a temporary folder, not docs/: " + ", ".join(offenders)

