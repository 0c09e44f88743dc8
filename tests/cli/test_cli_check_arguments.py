"""`microgrid derive` and `check` read their arguments as typed: claims in the order given (a minus in front or not),
``--at`` values never swallowing a claim, no value silently changed, and the exit status is the verdict."""

import os
import subprocess
import sys

import pytest

from microgrid.cli import build_parser, main, parse_at, positionals_last


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _table(out: str) -> list[tuple[str, str]]:
    """(claim, verdict) of each row of check's table."""
    rows = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            break
        rows.append((" ".join(parts[1:-1]), parts[-1]))
    return rows


@pytest.mark.parametrize(
    "claims", [["-(-2*x)", "3*x"], ["3*x", "-(-2*x)"], ["-2*x", "2*x", "-x"], ["2*x", "--2*x", "x"]]
)
def test_claims_are_checked_in_the_order_typed(capsys, claims):
    status, out, _ = run(capsys, "check", "y = x**2", "--wrt", "x", *claims)
    right = [c.replace("-(-2*x)", "2*x").replace("--2*x", "2*x") == "2*x" for c in claims]  # d(x**2)/dx = 2x
    assert _table(out) == [(c, "correct" if r else "incorrect") for c, r in zip(claims, right, strict=True)]
    first = right.index(False) + 1
    assert f"line {first} is the first that is not proved correct" in out
    assert status == 1


def test_the_order_holds_wherever_the_options_are(capsys):
    status, out, _ = run(capsys, "check", "--wrt", "x", "y = x**2", "-(-2*x)", "--at", "x=2", "3*x")
    assert _table(out) == [("-(-2*x)", "correct"), ("3*x", "incorrect")] and status == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "z = w*x; C = z**2", "--wrt", "w", "--at", "w=3", "x=0.5", "2*z*x"],
        ["check", "--at", "w=3", "x=0.5", "z = w*x; C = z**2", "--wrt", "w", "2*z*x"],
        ["check", "z = w*x; C = z**2", "--at", "w=3", "--wrt", "w", "--at", "x=0.5", "2*z*x"],
    ],
)
def test_at_values_never_swallow_a_claim_or_the_program(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 0 and out.startswith("correct"), err


def test_derive_at_values_never_swallow_the_program(capsys):
    status, out, err = run(capsys, "derive", "--at", "w=3", "x=0.5", "z = w*x; C = z**2", "--wrt", "w")
    assert status == 0 and "dC/dw" in out, err


def test_every_at_value_counts_when_at_is_given_twice(capsys):
    status, out, _ = run(capsys, "check", "C = w*x", "--at", "w=3", "--wrt", "w", "--at", "x=0.5", "x + 1")
    assert status == 1 and "x = 0.5" in out  # the counterexample is at the point given


@pytest.mark.parametrize("value", ["1e-400", "-1e-330", "2e-320"])
def test_a_value_beyond_the_floats_is_refused_not_rounded(capsys, value):
    with pytest.raises(ValueError, match=f"--at 'x={value}'"):
        parse_at([f"x={value}"])
    status, out, err = run(capsys, "check", "C = x*w", "--wrt", "w", "--at", f"x={value}", "x")
    assert status == 2 and not out and "x=" in err and len(err.strip().splitlines()) == 1


def test_zero_and_small_normal_values_are_kept():
    assert parse_at(["x=0", "y=-0.0", "z=1e-300", "w=2.2250738585072014e-308"]) == {
        "x": 0.0,
        "y": 0.0,
        "z": 1e-300,
        "w": 2.2250738585072014e-308,
    }


def test_the_rewritten_arguments_keep_the_positionals_in_order():
    argv = ["check", "p", "-a", "b", "--wrt", "x", "-c"]
    assert positionals_last(argv, build_parser()) == ["check", "--wrt", "x", "--", "p", "-a", "b", "-c"]


def _through_a_closed_pipe(*argv: str) -> subprocess.CompletedProcess:
    """The command with its stdout a pipe whose reader has already gone (``microgrid check ... | true``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "microgrid", *argv], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("claim, status", [("3*x", 1), ("2*x", 0)])
def test_the_exit_status_is_the_verdict_even_when_nobody_reads_the_output(claim, status):
    done = _through_a_closed_pipe("check", "y = x**2", "--wrt", "x", claim)
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


NEURON = "z = w*x + b; a = sigmoid(z); C = (a - y)**2"


@pytest.mark.parametrize(
    "program, claim",
    [
        (NEURON, "2(a − y)·σ'(z)·x"),
        (NEURON, r"2\left(a - y\right)\sigma'(z)\,x"),
        (NEURON, r"2\left(a - y\right) \sigma'(z) \, x"),
        (NEURON, r"2(a - y) \cdot \sigma'(z) \cdot x"),
        ("m = u*v; L = m*u", "dL/dm * dm/du + dL/du|_m"),  # d(u v u)/du = 2 u v
    ],
)
def test_a_line_as_a_learner_types_it_checks(capsys, program, claim):
    status, out, err = run(capsys, "check", program, "--wrt", "u" if "u" in program else "w", claim)
    assert status == 0 and out.startswith("correct"), out + err


def test_the_typed_line_checks_from_a_real_shell():
    done = subprocess.run(
        [sys.executable, "-m", "microgrid", "check", NEURON, "--wrt", "w", "2(a − y)·σ'(z)·x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.startswith("correct"), done.stdout + done.stderr


def test_an_unreadable_line_gets_its_verdict_and_the_others_are_checked(capsys):
    status, out, _ = run(capsys, "check", NEURON, "--wrt", "w", "2(a - y)σ'(z)x", "2(a - y", "x")
    assert _table(out) == [("2(a - y)σ'(z)x", "correct"), ("2(a - y", "unreadable"), ("x", "incorrect")]
    assert status == 2  # the first line that is not correct is unreadable
    assert "line 2: cannot read" in out and "\n      2(a - y\n       ^\n" in out and "write `2*(a - y)`" in out


def test_a_misspelt_name_is_named_not_called_unknown(capsys):
    status, out, err = run(capsys, "check", "z = w*x + b; a = tanh(zz); C = (a-y)**2", "--wrt", "w", "x")
    assert status == 2 and not out
    assert "C does not depend on w, x, b: z is never used (did you mean zz → z?)" in err and "unknown" not in err


def test_an_assume_line_is_a_constraint_and_a_malformed_one_is_refused(capsys):
    status, out, err = run(capsys, "derive", "assume y0 + y1 = 1; C = (y0*w)**2 + y1", "--wrt", "w")
    assert status == 0 and "dC/dw = 2*w*y0**2" in out and "assuming y0 + y1 = 1" in out, err
    status, out, err = run(capsys, "check", "assume y0 + y1; C = (y0*w)**2 + y1", "--wrt", "w", "2*y0**2*w")
    assert status == 2 and not out and "'assume y0 + y1' is no constraint" in err
