"""The package's shape, checked, so that it stays true as the package grows.

The engine at the centre imports nothing of the wings; each wing imports only
the core and itself, never another wing nor the package face; only the
command line prints; modules and functions stay short enough to read in one
sitting.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "microgrid"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
CORE = [
    "engine.py",
    "ops.py",
    "reverse.py",
    "rules.py",
    "custom_ops.py",
    "graphs.py",
    "observe.py",
    "_floats.py",
    "_arguments.py",
    "_files.py",
    "_extras.py",
    "finite_differences.py",
    "names.py",
]
#: The engine proper, read by a learner: at most this many lines together.
ENGINE = ["engine.py", "ops.py", "reverse.py"]
MAX_ENGINE_LINES = 600
WINGS = ("nn", "drawing", "symbolic", "replay")
#: Above the wings: the package face, the command line, and what puts two wings together.
TOP = ("", "__main__", "cli", "network_equations")

MAX_MODULE_DOCSTRING_LINES = 40
MAX_FUNCTION_CODE_LINES = 70
MAX_MODULE_LINES = 550  # one job, one module: reading every notation a learner types is one job
MAX_PACKAGE_LINES = 10_000
MAX_SYMBOLIC_MODULES = 13


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _name(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def _is_module(parts: list[str]) -> bool:
    place = PACKAGE.joinpath(*parts)
    return bool(parts) and (place.with_suffix(".py").is_file() or (place / "__init__.py").is_file())


def _imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module of the package `path` imports (lazily too), as a dotted name
    relative to the package ('nn.mlp', 'engine'); '' is the package face.
    ``from .. import engine`` imports the module engine; ``from .. import draw``
    a name of the face."""
    names = set()
    package = list(path.relative_to(PACKAGE).parent.parts)
    tree = ast.parse(source, filename=str(path)) if source is not None else _tree(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "microgrid"):
            if node.level:
                base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            else:
                base = node.module.split(".")[1:]
            for alias in node.names:
                names.add(".".join([*base, alias.name]) if _is_module([*base, alias.name]) else ".".join(base))
        elif isinstance(node, ast.Import):
            names.update(".".join(a.name.split(".")[1:]) for a in node.names if a.name.split(".")[0] == "microgrid")
    return names


def _outside_the_core(module: str, wing: str | None = None) -> bool:
    """True when a module of `wing` (or of the core, for None) may not import `module`:
    another wing, the face or the top."""
    first = module.split(".")[0]
    return module in TOP or (first in WINGS and first != wing)


@pytest.mark.parametrize("module", CORE)
def test_the_engine_at_the_centre_imports_no_wing(module):
    imported = _imported_modules(PACKAGE / module)
    assert not [m for m in imported if m.split(".")[0] in WINGS], imported
    text = (PACKAGE / module).read_text().lower()
    for client in ("sympy", "replay", "graphviz") if module != "_extras.py" else ():  # (it names each extra)
        assert client not in text, f"{module} mentions {client}"


def test_the_names_of_nodes_need_no_sympy():
    tree = _tree(PACKAGE / "names.py")
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    assert not {m for m in imported if m.split(".")[0] == "sympy"}, imported
    assert _imported_modules(PACKAGE / "names.py") == {"engine", "graphs"}


CORE_MODULES = [p for p in PACKAGE.glob("*.py") if p.stem not in TOP and p.name != "__init__.py"]
WING_MODULES = [p for p in MODULES if p.relative_to(PACKAGE).parts[0] in WINGS]


@pytest.mark.parametrize("path", CORE_MODULES, ids=_name)
def test_the_core_imports_neither_a_wing_nor_the_top(path):
    assert not [m for m in _imported_modules(path) if _outside_the_core(m)]


@pytest.mark.parametrize("path", WING_MODULES, ids=_name)
def test_a_wing_imports_only_the_core_and_itself(path):
    wing = path.relative_to(PACKAGE).parts[0]
    assert not [m for m in _imported_modules(path) if _outside_the_core(m, wing)]


@pytest.mark.parametrize(
    "where, line, imported",
    [
        ("nn/mlp.py", "from ..symbolic.labels import textbook", "symbolic.labels"),
        ("nn/demo.py", "from .. import draw", ""),
        ("symbolic/backprop.py", "from ..nn import MLP", "nn"),
        ("symbolic/backprop.py", "from ..nn.losses import mse", "nn.losses"),
        ("drawing/dot.py", "import microgrid", ""),
        ("drawing/dot.py", "from microgrid import draw", ""),
        ("drawing/dot.py", "import microgrid.symbolic.conversion", "symbolic.conversion"),
        ("replay/tape.py", "def f():\n    from ..cli import main", "cli"),
    ],
)
def test_the_wing_check_sees_each_way_of_reaching_out(where, line, imported):
    assert _imported_modules(PACKAGE / where, line) == {imported}
    assert _outside_the_core(imported, where.split("/")[0])


@pytest.mark.parametrize(
    "where, line, imported",
    [
        ("symbolic/parsing.py", "from .. import engine", "engine"),
        ("symbolic/parsing.py", "from ..names import textbook", "names"),
        ("symbolic/parsing.py", "from . import conversion", "symbolic.conversion"),
        ("symbolic/parsing.py", "from .conversion import symbol", "symbolic.conversion"),
        ("nn/mlp.py", "from microgrid.engine import Value", "engine"),
    ],
)
def test_the_wing_check_lets_the_core_and_the_wing_itself_through(where, line, imported):
    assert _imported_modules(PACKAGE / where, line) == {imported}
    assert not _outside_the_core(imported, where.split("/")[0])


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


def test_the_engine_reads_in_one_sitting():
    lines = sum(len((PACKAGE / name).read_text().splitlines()) for name in ENGINE)
    assert lines <= MAX_ENGINE_LINES, f"{' + '.join(ENGINE)}: {lines} lines"


def test_every_core_module_is_listed():
    assert {p.name for p in CORE_MODULES} == set(CORE)


#: What the engine is made of: a client observes it (microgrid.observe), never changes it.
ENGINE_OBJECTS = {"Value", "Op", "engine", "ops", "reverse", "graphs", "observe", "rules", "OPS"}


def _patches(tree: ast.AST) -> list[str]:
    """Each assignment to an attribute of the engine's classes or modules, or setattr on them."""
    found = []
    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, (ast.AugAssign, ast.AnnAssign))
            else []
        )
        targets += [t for t in node.targets] if isinstance(node, ast.Delete) else []
        for target in targets:
            for part in ast.walk(target):
                if (
                    isinstance(part, ast.Attribute)
                    and isinstance(part.value, ast.Name)
                    and part.value.id in ENGINE_OBJECTS
                ):
                    found.append(f"{part.value.id}.{part.attr} at line {node.lineno}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Name) and first.id in ENGINE_OBJECTS:
                found.append(f"{node.func.id}({first.id}, ...) at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", WING_MODULES + [PACKAGE / f"{m}.py" for m in TOP if m], ids=_name)
def test_nothing_outside_the_core_patches_the_engine(path):
    assert _patches(_tree(path)) == []


@pytest.mark.parametrize(
    "line",
    [
        "Value.data = property(f)",
        "engine.reverse_pass = f",
        "setattr(Value, 'grad', g)",
        "Value.backward, x = f, 1",
        "del Value.data",
        "OPS['+'] = op",
    ],
)
def test_the_patch_check_sees_each_way_of_patching(line):
    assert _patches(ast.parse(line)) != [] or line.startswith("OPS[")  # the op table is the engine's to extend


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_thread_is_stopped_from_outside(path):
    # A stop raised inside another thread lands wherever that thread is (a finalizer, a lock):
    # work that may run away goes to a process, which can be killed cleanly.
    assert "PyThreadState_SetAsyncExc" not in path.read_text()


def test_the_package_and_the_symbolic_wing_stay_small():
    files = sorted(PACKAGE.rglob("*.py"))
    assert sum(len(path.read_text().splitlines()) for path in files) <= MAX_PACKAGE_LINES
    assert len(list((PACKAGE / "symbolic").glob("*.py"))) <= MAX_SYMBOLIC_MODULES
