"""The benchmarks run (at a tiny size, so they cannot rot), and the work they
time is the right work: the hand-written code computes the same loss and
gradients as the engine.  No timing is asserted."""

import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import handwritten  # noqa: E402
import run as bench  # noqa: E402
import workloads  # noqa: E402

from microgrid import Value, losses  # noqa: E402


def test_quick_run_prints_every_table(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for title in ("### (a) moons step", "### (b) chain", "### (c) wide", "### (d) memory", "### Targets"):
        assert title in out
    engines = workloads.available_engines()
    for engine in engines:
        assert f"| {engine} |" in out
    if "pytorch" not in engines:
        assert "torch not installed: skipped" in out
    assert "N = 2,000** (8,001 nodes)" in out and "microgrid: completes" in out
    if "micrograd" in engines:
        assert "RecursionError" in out  # micrograd cannot do deep chains


@pytest.mark.parametrize("make_cases", [
    lambda engines: workloads.moons_cases(engines, n_points=3, hidden=2),
    lambda engines: workloads.chain_cases(5, engines),
    lambda engines: workloads.wide_cases(7, engines),
])
def test_every_case_steps(make_cases):
    engines = workloads.available_engines()
    cases = make_cases(engines)
    assert [c.engine for c in cases] == engines
    for case in cases:
        step = case.make()
        step()
        step()
        assert case.nodes > 0


def test_replay_cases_train_like_the_eager_ones():
    # The timed replay does the same work as the timed eager step.
    from microgrid import nn

    X, Y = workloads.moons_data(5)
    sizes = [3, 3, 1]
    eager_step = workloads._microgrid_moons(X, Y, sizes, replay=False)
    replay_step = workloads._microgrid_moons(X, Y, sizes, replay=True)
    for _ in range(3):
        eager_step()
        replay_step()
    assert eager_step.model.state_dict() == replay_step.model.state_dict()
    assert eager_step.model.state_dict() != nn.MLP(2, sizes, activation="relu", seed=1337).state_dict()


def test_memory_per_node_is_at_most_a_third_of_micrograds():
    # A ratio measured in one process: robust to the machine, unlike a time.
    pytest.importorskip("micrograd")
    builders = workloads.graph_builders("wide", 2_000, ["micrograd", "microgrid"])
    nodes = 4 * 2_000 - 1
    ours = bench.bytes_per_node(builders["microgrid"], nodes)
    theirs = bench.bytes_per_node(builders["micrograd"], nodes)
    assert 0 < ours <= theirs / 3


def test_node_counts_match_the_graphs():
    from microgrid.engine import topological_order

    assert len(topological_order(workloads.chain(Value(0.5), 5))) == workloads.chain_cases(5, ["microgrid"])[0].nodes
    leaves = [Value(x) for x in range(14)]
    root = workloads.tree_sum([x * y for x, y in zip(leaves[:7], leaves[7:])])
    assert len(topological_order(root)) == workloads.wide_cases(7, ["microgrid"])[0].nodes


def test_tree_sum_adds_everything():
    assert workloads.tree_sum([1.0, 2.0, 3.0, 4.0, 5.0]) == 15.0
    assert workloads.tree_sum([7.0]) == 7.0


def test_hand_written_mlp_matches_the_engine():
    # The hand-written loss and gradient against the engine's, same weights.
    X, Y = workloads.moons_data(6)
    layers = handwritten.init_mlp([2, 3, 3, 1], seed=5)
    loss, grads = handwritten.mlp_loss_and_grads(layers, X, Y, alpha=1e-2)

    values = [([[Value(w) for w in row] for row in W], [Value(b) for b in bs]) for W, bs in layers]
    scores = []
    for x in X:
        a = [Value(v) for v in x]
        for i, (W, bs) in enumerate(values):
            z = [sum((w * ak for w, ak in zip(row, a)), b) for row, b in zip(W, bs)]
            a = z if i == len(values) - 1 else [zj.relu() for zj in z]
        scores.append(a[0])
    params = [p for W, bs in values for row in W for p in row] + [b for _, bs in values for b in bs]
    total = losses.hinge(scores, Y) + losses.l2_penalty(params, 1e-2)
    total.backward()
    assert loss == pytest.approx(total.data, rel=1e-12)
    for (W, bs), (gW, gb) in zip(values, grads):
        for row, grow in zip(W, gW):
            assert [w.grad for w in row] == pytest.approx(grow, rel=1e-9, abs=1e-12)
        assert [b.grad for b in bs] == pytest.approx(gb, rel=1e-9, abs=1e-12)


def test_hand_written_chain_and_wide_by_hand():
    x, dx = handwritten.chain(0.5, 3)
    expected = 0.5
    for _ in range(3):
        expected = expected * 1.0001 + 0.0001
    assert x == expected and dx == pytest.approx(1.0001**3, rel=1e-15)
    total, ga, gb = handwritten.wide([1.0, 2.0], [3.0, -4.0])
    assert (total, ga, gb) == (1.0 * 3.0 + 2.0 * -4.0, [3.0, -4.0], [1.0, 2.0])


def test_sgd_update_steps_against_the_gradient():
    layers = [([[1.0, -2.0]], [0.5])]
    grads = [([[0.1, -0.2]], [1.0])]
    handwritten.sgd_update(layers, grads, lr=0.5)
    assert layers == [([[1.0 - 0.05, -2.0 + 0.1]], [0.0])]
    assert not math.isnan(layers[0][1][0])
