"""`microgrid derive` and `microgrid check`: output, exit status 0 / 1 / 2, refusals."""

import subprocess
import sys

import pytest

from microgrid.cli import main
from microgrid.derivations import DERIVATIONS, SEED_001_CLAIM
from microgrid.labels import to_identifier


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
    "claim",
    ["__import__('os').system('echo hacked')", "A +", "A ^ 2", "q - y"],
)
def test_check_refuses_bad_claims(capfd, claim):
    status = main(["check", "sigmoid-cross-entropy", claim])
    out, err = capfd.readouterr()  # file-descriptor level: a shell command would show here
    assert status == 2 and not out
    assert err.startswith("microgrid check:") and "hacked\n" not in err


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
