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
    ["A - y + 1e-12", "(A - y)*(1 + 1e-8)", "A - y + 1e-8*A", "A - y + relu(W - 10)", "A - y + relu(W - 3)", "A - y + 1e-30"],
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
