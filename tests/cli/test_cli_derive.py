"""`microgrid derive` and `microgrid check`: output, exit status 0 / 1 / 2, refusals."""

import subprocess
import sys

import pytest

from microgrid.cli import main
from microgrid.names import to_identifier
from microgrid.symbolic.seeds import DERIVATIONS, SEED_001_CLAIM


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_derive_list(capsys):
    status, out, err = run(capsys, "derive", "--list")
    assert status == 0 and not err
    for name in DERIVATIONS:
        assert name in out


def test_derive_sigmoid_cross_entropy_prints_the_seed_steps(capsys):
    status, out, err = run(capsys, "derive", "sigmoid-cross-entropy")
    assert status == 0 and not err
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("2. dL/dZ"))
    step = lines[start : lines.index("", start)]
    step = step[
        : max(i for i, line in enumerate(step) if line.strip() == "as seed 000 writes it:")
    ]  # the engine's lines
    assert "dA/dZ = A*(1 - A)" in "\n".join(step)
    result_lines = [line for line in step if line.strip().startswith(("dL/dZ", "="))]
    assert result_lines[-1].strip() == "= A - y"
    assert "dL/dW = A_prev*(A - y)" in out


def test_derive_latex(capsys):
    status, out, _ = run(capsys, "derive", "two-layer-network", "--latex")
    assert status == 0
    assert out.startswith(r"\begin{aligned}") and r"\frac{\partial f}{\partial w^{(1)}_{0,0}}" in out


@pytest.mark.parametrize("argv", [["derive"], ["derive", "nope"], ["check", "nope", "A"]])
def test_usage_errors(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and not out
    assert err.startswith(f"microgrid {argv[0]}:") and len(err.strip().splitlines()) == 1


def test_check_seed001_answer_is_incorrect(capsys):
    status, out, _ = run(capsys, "check", "two-layer-network", SEED_001_CLAIM)
    assert status == 1
    assert out.startswith("incorrect") and "counterexample" in out and "claimed" in out and "true" in out


def test_check_correct_claims(capsys):
    assert run(capsys, "check", "sigmoid-cross-entropy", "A - y")[0] == 0
    status, out, _ = run(capsys, "check", "sigmoid-cross-entropy", "(A - y)*A_prev", "--wrt", "W")
    assert status == 0 and out.startswith("correct")
    # labels that are not Python names are typed in their identifier spelling
    prev, a = to_identifier("a^(L-1)"), to_identifier("a^(L)")
    status, out, _ = run(capsys, "check", "single-neuron-squared-error", f"2*{prev}*{a}*(1 - {a})*({a} - y)")
    assert status == 0, out


@pytest.mark.parametrize(
    "claim, unreadable",
    [("__import__('os').system('echo hacked')", True), ("A +", True), ("A @ 2", False), ("q - y", False)],
)
def test_check_refuses_bad_claims(capfd, claim, unreadable):
    status = main(["check", "sigmoid-cross-entropy", claim])
    out, err = capfd.readouterr()  # file-descriptor level: a shell command would show here
    assert status == 2 and "hacked\n" not in out + err
    if unreadable:  # the line's verdict says where: other lines would still be checked
        assert out.startswith("unreadable: line 1: cannot read") and "^" in out and not err
    else:
        assert not out and err.startswith("microgrid check:")


def test_check_unknown_wrt(capsys):
    status, _, err = run(capsys, "check", "sigmoid-cross-entropy", "A", "--wrt", "nothing")
    assert status == 2 and "nothing" in err


def test_a_real_process():
    done = subprocess.run(
        [sys.executable, "-m", "microgrid", "check", "two-layer-network", SEED_001_CLAIM],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "counterexample" in done.stdout


# ------------------------------------------------- exit codes 0 / 1 / 2 / 3
@pytest.mark.parametrize(
    "claim, says",
    [
        ("A - y + 1/0", "divides by zero"),
        ("0**-1", "divides by zero"),
        ("(-8)**(1/3)", "not a real number"),
        ("0" + "-" * 1500 + "A", "levels deep"),
        ("A" + "+A" * 990, "levels deep"),
        ("A" + "**A" * 600, "levels deep"),
        ("exp(" * 200 + "A" + ")" * 200, "levels deep"),
        ("exp(exp(exp(exp(1000))))*A", "out of range"),
        ("999**999", "out of range"),
        ("1" * 1999, "out of range"),
        ("(A+y)**999", "terms"),
        ("(A+y+W+b)**30", "terms"),
        ("A/(y - y)", "undefined"),
    ],
)
def test_malformed_claims_exit_2_with_one_line(capsys, claim, says):
    status, out, err = run(capsys, "check", "sigmoid-cross-entropy", claim)
    assert status == 2 and not out
    assert err.startswith("microgrid check:") and says in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "claim",
    [
        "A - y + 1e-12",
        "(A - y)*(1 + 1e-8)",
        "A - y + 1e-8*A",
        "A - y + relu(W - 10)",
        "A - y + relu(W - 3)",
        "A - y + 1e-30",
    ],
)
def test_nearly_right_claims_exit_1(capsys, claim):
    status, out, _ = run(capsys, "check", "sigmoid-cross-entropy", claim)
    assert status == 1 and out.startswith("incorrect")


def test_a_claim_agreeing_only_numerically_exits_3(capsys):
    # log(exp(W)) = W for real W, which sympy cannot assume of a plain symbol
    status, out, err = run(capsys, "check", "sigmoid-cross-entropy", "A - y + log(exp(W)) - W")
    assert status == 3 and not err
    assert out.startswith("unproven") and "24 points" in out and "log(exp(W))" in out


def test_a_correct_claim_by_definitions_shows_no_leftover_difference(capsys):
    status, out, _ = run(capsys, "check", "sigmoid-cross-entropy", "1/(1+exp(-Z)) - y")
    assert status == 0 and out.startswith("correct") and "exp(-Z)" in out.splitlines()[0]
    assert "-A +" not in out


def test_check_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "0 correct" in out and "1 incorrect" in out and "2 malformed" in out and "3 unproven" in out


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_derive_latex_for_every_derivation(capsys, name):
    from latex_validity import assert_valid_latex

    status, out, err = run(capsys, "derive", name, "--latex")
    assert status == 0 and not err
    assert_valid_latex(out.strip())


# ------------------------------------------- programs, mlp, several lines
def test_derive_a_program_ends_in_the_textbook_form(capsys):
    status, out, err = run(
        capsys,
        "derive",
        "z = w*x + b; a = tanh(z); C = (a - y)**2",
        "--wrt",
        "w",
        "--at",
        "x=0.5",
        "w=-1.5",
        "b=0.25",
        "y=0.1",
    )
    assert status == 0 and not err
    *_, formula, number = [line.strip() for line in out.splitlines() if line.strip().startswith("= ")]
    assert formula == "= 2*(a - y)*(1 - a**2)*x"
    # the same formula is sympy's derivative of the written-out program, at the --at point; so is the number beside it
    import sympy

    w, x, b, y = sympy.symbols("w x b y")
    truth = sympy.diff((sympy.tanh(w * x + b) - y) ** 2, w).subs({w: -1.5, x: 0.5, b: 0.25, y: 0.1})
    a = sympy.tanh(-1.5 * 0.5 + 0.25)
    assert float(2 * (a - 0.1) * (1 - a**2) * 0.5) == pytest.approx(float(truth), rel=1e-12)
    assert float(number.removeprefix("= ")) == pytest.approx(float(truth), rel=1e-3)
    assert run(capsys, "derive", "z = w*x + b; a = tanh(z); C = (a - y)**2", "--wrt", "w", "--latex")[1].startswith(
        r"\begin{aligned}"
    )


@pytest.mark.parametrize(
    "argv, says",
    [
        (["derive", "z = w*x; C = z**2"], "--wrt"),
        (["derive", "z = w*x; C = z**2", "--wrt", "q"], "unknown name 'q'"),
        (["derive", "z = w*x; C = z**2", "--wrt", "w", "--at", "w"], "NAME=NUMBER"),
        (["derive", "z = w*x; C = z**2", "--wrt", "w", "--at", "w=1", "w=2"], "gives w twice"),
        (["check", "z = w*x; C = z**2", "2*z*x", "--wrt", "w", "--at", "x=inf"], "must be finite"),
        (["derive", "mlp", "2"], "layer sizes"),
        (["derive", "mlp", "2", "x"], "whole numbers"),
        (["check", "s = log(1 + exp(x))", "sigmoid(x)"], "--wrt"),
        (["check", "s = log(1 + exp(x))", "--wrt", "x", "sigmoid(q)"], "unknown name q"),
    ],
)
def test_program_usage_errors_exit_2_with_one_line(capsys, argv, says):
    status, out, err = run(capsys, *argv)
    assert status == 2 and not out
    assert err.startswith(f"microgrid {argv[0]}:") and says in err and len(err.strip().splitlines()) == 1


def test_check_a_program_exits_0_when_right():
    done = subprocess.run(
        [sys.executable, "-m", "microgrid", "check", "s = log(1 + exp(x))", "--wrt", "x", "sigmoid(x)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.startswith("correct")


def test_check_several_lines_names_the_first_wrong_one(capsys):
    program = "z = w*x + b; a = tanh(z); C = (a - y)**2"
    lines = ["2*(a - y)*(1 - a**2)*x", "2*(tanh(z) - y)*(1 - tanh(z)**2)*x", "2*(a - y)*x", "2*(a - y)*(1 - a)*x"]
    status, out, err = run(capsys, "check", program, "--wrt", "w", *lines)
    assert status == 1 and not err
    rows = out.splitlines()
    assert [r.split()[-1] for r in rows[1:5]] == ["correct", "correct", "incorrect", "incorrect"]
    assert "line 3 is the first that is not proved correct" in out
    assert run(capsys, "check", program, "--wrt", "w", *lines[:2])[0] == 0
    # unproven only (3) when no line is incorrect before it
    status, out, _ = run(capsys, "check", program, "--wrt", "w", lines[0], "2*(a - y)*(1 - a**2)*x + log(exp(w)) - w")
    assert status == 3 and "line 2" in out


def test_a_textbook_claim_checks_against_layer_squared_error(capsys):
    claim = "w^(L)_0,0*a^(L)_0*(1 - a^(L)_0)*2*(a^(L)_0 - y_0) + w^(L)_1,0*a^(L)_1*(1 - a^(L)_1)*2*(a^(L)_1 - y_1)"
    for wrt in ("a^(L-1)_0", "aLm1_0"):
        status, out, _ = run(capsys, "check", "layer-squared-error", "--wrt", wrt, claim)
        assert status == 0 and out.startswith("correct"), out


def test_derive_mlp_prints_and_verifies_the_four_equations(capsys):
    status, out, err = run(capsys, "derive", "mlp", "2", "3", "2")
    assert status == 0 and not err
    for name in ("(BP1)", "(BP2)", "(BP3)", "(BP4)"):
        assert name in out
    # 2-3-2: 9 + 8 weights and biases, 3 + 2 deltas
    assert out.strip().splitlines()[-1] == "verified: 22 instances agree with the engine's reverse pass"
    status, out, _ = run(capsys, "derive", "mlp", "2", "3", "1", "--activation", "tanh", "--loss", "bce", "--latex")
    assert status == 0 and out.startswith(r"\begin{aligned}")


def test_check_help_lists_the_names_each_derivation_knows(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name in DERIVATIONS:
        assert name in out
    assert "A_prev" in out and "w^(L)_0,0" in out and "a^(L-1)" in out


@pytest.mark.parametrize("command", ["derive", "check"])
def test_a_program_sympy_would_multiply_out_forever_is_refused_at_once(capsys, command):
    """At this x every level of the tower is a modest float, but written out
    exactly it holds 1000**(10**9): sympy would multiply it out for minutes in C."""
    import time

    tower = "y = exp(1000*log(1000*exp(1000*log(1000*exp(1000*log(1000*x))))))"
    claims = ["x"] if command == "check" else []
    start = time.monotonic()
    status, out, err = run(capsys, command, tower, *claims, "--at", f"x={10**-3.003003!r}", "--wrt", "x")
    assert time.monotonic() - start < 60  # a bound, not a benchmark: sympy would take minutes
    assert status == 2 and not out
    assert "more than 4,300 digits" in err and "backward()" in err and len(err.splitlines()) == 1


def test_one_level_of_the_tower_is_still_derived(capsys):
    status, out, _ = run(capsys, "derive", "y = exp(1000*log(1000*x))", "--at", "x=0.0011", "--wrt", "x")
    assert status == 0 and "dy/dx = 1000*y/x" in out


def test_a_network_too_large_to_write_out_is_refused_at_once(capsys):
    import time

    start = time.monotonic()
    status, out, err = run(capsys, "derive", "mlp", "2", "3000", "1")
    assert status == 2 and not out and "12001 parameters, above 2000" in err and len(err.strip().splitlines()) == 1
    status, out, err = run(capsys, "derive", "mlp", "2", "3000", "3000", "1")  # 9 million: never built
    assert status == 2 and "mlp 2 3000 3000 1 has 9015001 parameters, above 2000" in err
    assert time.monotonic() - start < 30  # refused before any work: a bound, not a benchmark
    status, out, err = run(capsys, "derive", "mlp", "2", "3", "1")  # a small one still answers
    assert status == 0 and "(BP1)" in out


def test_check_help_says_ctrl_c_exits_130(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line: argparse would break "Ctrl-C" at its hyphen
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert "Ctrl-C stops the check at once, with exit status 130" in out


def test_derive_at_shows_each_steps_value(capsys):
    """The reference: d/dw (tanh(w x + b) - y)**2 = 2 (a - y)(1 - a**2) x, computed here in floats."""
    import math

    status, out, err = run(
        capsys, "derive", "z = w*x + b; a = tanh(z); C = (a - y)**2", "--wrt", "w", "--at", "w=0.5", "x=1.5", "b=0.1"
    )
    assert status == 0 and not err
    y = float(out.split(", y=")[1].split(",")[0])  # sampled: the note says its value
    a = math.tanh(0.5 * 1.5 + 0.1)
    last = [line.strip() for line in out.split("3. dC/dw")[1].splitlines() if line.strip().startswith("=")][-1]
    assert float(last.removeprefix("= ")) == pytest.approx(2 * (a - y) * (1 - a**2) * 1.5, rel=1e-3)
    assert "not given in at, so the graph's own (sampled, for a program): y" in out


def test_derive_says_when_its_verdicts_use_sampled_values(capsys):
    status, out, _ = run(capsys, "derive", "sigmoid-cross-entropy")
    assert status == 0 and "the verdicts compare numbers at sampled values of the leaves" in out
    status, out, _ = run(capsys, "derive", "z = w*x; C = z**2", "--wrt", "w")
    assert status == 0 and "sampled" not in out and "value at" not in out


SOFTMAX_CE = (
    "s = exp(z0) + exp(z1) + exp(z2); p0 = exp(z0)/s; p1 = exp(z1)/s; p2 = exp(z2)/s; "
    "C = -(y0*log(p0) + y1*log(p1) + y2*log(p2)); assume y0 + y1 + y2 = 1"
)


def test_derive_uses_the_programs_assume_lines_and_says_so(capsys):
    import sympy

    status, out, _ = run(capsys, "derive", SOFTMAX_CE, "--wrt", "z0")
    assert status == 0 and out.rstrip().endswith("note: assuming y0 + y1 + y2 = 1")
    last = [line for line in out.splitlines() if line.strip().startswith("=")][-1]
    assert last.strip() == "= p0 - y0"
    z0, z1, z2, y0, y1 = sympy.symbols("z0 z1 z2 y0 y1")
    y2 = 1 - y0 - y1  # the constraint, written in the test
    s = sympy.exp(z0) + sympy.exp(z1) + sympy.exp(z2)
    C = -(y0 * sympy.log(sympy.exp(z0) / s) + y1 * sympy.log(sympy.exp(z1) / s) + y2 * sympy.log(sympy.exp(z2) / s))
    assert sympy.simplify(sympy.diff(C, z0) - (sympy.exp(z0) / s - y0)) == 0


def test_check_refuses_assume_lines_rather_than_ignore_them(capsys):
    status, _, err = run(capsys, "check", SOFTMAX_CE, "--wrt", "z0", "p0 - y0")
    assert status == 2 and "leave out the assume lines" in err
