"""The layering of design.md, enforced: app > screens|ops > agents > runtime > storage; no textual below."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
HEADLESS = ("runtime", "agents", "storage", "ops")


def test_import_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_no_textual_import_in_headless_packages() -> None:
    """A direct scan too, so that a contract misconfiguration cannot hide a textual import."""
    offenders = []
    for package in HEADLESS:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n == "textual" or n.startswith(("textual.", "textual_plotext", "screens")) for n in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    assert offenders == []
