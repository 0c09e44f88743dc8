"""The package's shape, checked, so that it stays true as the package grows.

The engine at the centre imports nothing of the wings; only the command line
prints; modules and functions stay short enough to read in one sitting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "microgrid"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
CORE = ["engine.py", "ops.py", "reverse.py", "_floats.py", "_checks.py", "finite_differences.py"]
WINGS = ("nn", "drawing", "symbolic", "replay")

MAX_MODULE_DOCSTRING_LINES = 40
MAX_FUNCTION_CODE_LINES = 70
MAX_MODULE_LINES = 450  # "about 400"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, as a dotted name relative to the package ('nn.mlp', 'engine')."""
    names = set()
    package = path.relative_to(PACKAGE).parent.parts
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - node.level + 1])
            parts = base + (node.module.split(".") if node.module else [])
            names.add(".".join(parts))
            names.update(".".join(parts + [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("microgrid"):
            names.add(node.module.removeprefix("microgrid").lstrip("."))
        elif isinstance(node, ast.Import):
            names.update(a.name.removeprefix("microgrid.") for a in node.names if a.name.startswith("microgrid"))
    return names


@pytest.mark.parametrize("module", CORE)
def test_the_engine_at_the_centre_imports_no_wing(module):
    imported = _imported_modules(PACKAGE / module)
    assert not [m for m in imported if m.split(".")[0] in WINGS], imported
    text = (PACKAGE / module).read_text().lower()
    for client in ("sympy", "replay", "graphviz"):
        assert client not in text, f"{module} mentions {client}"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_the_command_line_prints(path):
    if path.name in ("cli.py", "__main__.py"):
        return
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call):
            function = node.func
            assert not (isinstance(function, ast.Name) and function.id == "print"), f"print at line {node.lineno}"
        if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr"):
            parent = node.value
            assert not (isinstance(parent, ast.Name) and parent.id == "sys"), f"sys.{node.attr} at line {node.lineno}"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_modules_and_functions_read_in_one_sitting(path):
    text = path.read_text()
    tree = _tree(path)
    docstring = ast.get_docstring(tree, clean=False) or ""
    assert docstring.count("\n") + 1 <= MAX_MODULE_DOCSTRING_LINES
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    lines = text.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if not body:
                continue
            code = [
                n for n in range(body[0].lineno, body[-1].end_lineno + 1)
                if lines[n - 1].strip() and not lines[n - 1].strip().startswith("#")
            ]  # fmt: skip
            assert len(code) <= MAX_FUNCTION_CODE_LINES, f"{node.name} has {len(code)} lines of code"
