"""The benchmarks run (at a tiny size, so they cannot rot), and the work they
time is the right work: the hand-written code computes the same loss and
gradients as the engine.  No timing is asserted."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import handwritten  # noqa: E402
import run as bench  # noqa: E402
import workloads  # noqa: E402

from microgrid import Value  # noqa: E402
from microgrid.nn import losses  # noqa: E402


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
    assert "equal the eager step's, bit for bit, over 3 SGD steps on these 4 points: yes." in out
    assert "PyTorch is not in this table" in out


def test_write_keeps_the_notes_and_replaces_the_latest_run(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Benchmarks\n\nNotes by hand.\n\n{bench.LATEST_RUN}\n\n## The latest run\n\nold tables\n")
    bench.write_latest_run(["## The latest run", "", "new tables"], results)
    bench.write_latest_run(["## The latest run", "", "newer tables"], results)
    assert (
        results.read_text()
        == f"# Benchmarks\n\nNotes by hand.\n\n{bench.LATEST_RUN}\n\n## The latest run\n\nnewer tables\n"
    )


def test_write_to_a_page_without_the_line_keeps_all_of_it(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmarks\n\nOnly notes.\n")
    bench.write_latest_run(["new tables"], results)
    assert results.read_text() == f"# Benchmarks\n\nOnly notes.\n\n{bench.LATEST_RUN}\n\nnew tables\n"
    bench.write_latest_run(["new tables"], missing := tmp_path / "new.md")
    assert missing.read_text() == f"# Benchmarks\n\n{bench.LATEST_RUN}\n\nnew tables\n"


def test_the_committed_results_have_notes_above_one_latest_run():
    notes, *runs = (BENCHMARKS / "RESULTS.md").read_text().split(bench.LATEST_RUN)
    assert len(runs) == 1 and "## How it measures" in notes
    assert runs[0].startswith("\n\n## The latest run\n") and "### Targets" in runs[0]


SMALL = {
    "moons": lambda: dict(zip(("X", "Y"), workloads.moons_data(3), strict=False), hidden=2),
    "chain": lambda: {"n": 5},
    "wide": lambda: {"n": 7},
}


@pytest.mark.parametrize("workload", sorted(SMALL))
def test_every_engine_steps(workload):
    for engine in workloads.available_engines():
        step = workloads.make_step(workload, engine, SMALL[workload]())
        step()
        step()
        assert workloads.nodes(workload, engine, SMALL[workload]()) > 0


def test_torch_is_found_without_being_imported():
    # Importing torch would slow down the collections of every engine timed after it.
    code = "import sys, workloads; workloads.available_engines(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=BENCHMARKS, check=True)


def test_replay_trains_exactly_like_eager():
    # The check the full run makes on the 100 points, here on 5: the timed
    # replay step and the timed eager step give the same loss, gradients and
    # parameters, to the bit.
    X, Y = workloads.moons_data(5)
    size = dict(X=X, Y=Y, hidden=3)
    assert bench.replay_matches_eager(size) == (True, 25)
    step = workloads.make_step("moons", "microgrid", size)
    before = step.model.state_dict()
    step()
    assert step.model.state_dict() != before


def test_memory_per_node_is_at_most_a_third_of_micrograds():
    # A ratio measured in one process: robust to the machine, unlike a time.
    pytest.importorskip("micrograd")
    nodes = 4 * 2_000 - 1
    ours = bench.bytes_per_node(workloads.graph_builder("wide", 2_000, "microgrid"), nodes)
    theirs = bench.bytes_per_node(workloads.graph_builder("wide", 2_000, "micrograd"), nodes)
    assert 0 < ours <= theirs / 3


def test_node_counts_match_the_graphs():
    from microgrid.engine import topological_order

    assert len(topological_order(workloads.chain(Value(0.5), 5))) == workloads.nodes("chain", "microgrid", {"n": 5})
    leaves = [Value(x) for x in range(14)]
    root = workloads.tree_sum([x * y for x, y in zip(leaves[:7], leaves[7:], strict=False)])
    assert len(topological_order(root)) == workloads.nodes("wide", "microgrid", {"n": 7})


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
            z = [sum((w * ak for w, ak in zip(row, a, strict=False)), b) for row, b in zip(W, bs, strict=False)]
            a = z if i == len(values) - 1 else [zj.relu() for zj in z]
        scores.append(a[0])
    params = [p for W, bs in values for row in W for p in row] + [b for _, bs in values for b in bs]
    total = losses.hinge(scores, Y) + losses.l2_penalty(params, 1e-2)
    total.backward()
    assert loss == pytest.approx(total.data, rel=1e-12)
    for (W, bs), (gW, gb) in zip(values, grads, strict=False):
        for row, grow in zip(W, gW, strict=False):
            assert [w.grad for w in row] == pytest.approx(grow, rel=1e-9, abs=1e-12)
        assert [b.grad for b in bs] == pytest.approx(gb, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_hand_written_chain_is_the_engines_forward_and_backward(n):
    # The same arithmetic, to the bit: the result, d/dx, and the gradients of
    # the constants the engine lifts to leaves at every step (1.0001, 0.0001).
    from microgrid.engine import topological_order

    x = Value(0.5)
    root = workloads.chain(x, n)
    root.backward()
    constants = [node for node in topological_order(root) if node.op == "" and node is not x]
    value, dx, d_scale, d_shift = handwritten.chain(0.5, n)
    assert (value, dx) == (root.data, x.grad)
    assert d_scale == [c.grad for c in constants[0::2]] and d_shift == [c.grad for c in constants[1::2]]


@pytest.mark.parametrize("n", [1, 2, 7, 16, 33])
def test_hand_written_wide_is_the_engines_forward_and_backward(n):
    a, b = workloads.wide_pairs(n, seed=n)
    leaves = [Value(x) for x in a + b]
    root = workloads.tree_sum([x * y for x, y in zip(leaves[:n], leaves[n:], strict=False)])
    root.backward()
    total, ga, gb = handwritten.wide(a, b)
    assert total == root.data
    assert ga == [x.grad for x in leaves[:n]] and gb == [y.grad for y in leaves[n:]]


def test_sgd_update_steps_against_the_gradient():
    layers = [([[1.0, -2.0]], [0.5])]
    grads = [([[0.1, -0.2]], [1.0])]
    handwritten.sgd_update(layers, grads, lr=0.5)
    assert layers == [([[1.0 - 0.05, -2.0 + 0.1]], [0.0])]
    assert not math.isnan(layers[0][1][0])
