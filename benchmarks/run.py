"""``make bench``: microgrid against micrograd, PyTorch and hand-written Python.

    python benchmarks/run.py            # the full run (a few minutes), prints Markdown
    python benchmarks/run.py --write    # ... and saves it to benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # tiny sizes: checks that everything runs

How it measures (the machine is shared and noisy, so only ratios within one
run mean anything):

* Engines alternate: each repetition runs every engine once, in a rotated
  order, so a slow spell hits them all.
* Each engine runs a *block* of consecutive steps, as a training loop would:
  the garbage one step leaves is collected during the next ones, which is
  where micrograd loses most of its time.  The first step of each block is a
  warm-up and is not counted.  Between blocks, `gc.collect()` runs untimed,
  so one engine's garbage is never charged to another.
* With the collector on (as users run Python) and off, separately.
* Medians over all counted steps, in microseconds per graph node.
* Memory: `tracemalloc` while a graph is built and differentiated, bytes
  still held per node with the graph alive.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import workloads
from workloads import Case

HERE = Path(__file__).resolve().parent
TARGETS = {"speed, collector on": 10.0, "speed, collector off": 2.0, "memory": 1 / 3, "replay vs hand-written": 2.0}


def time_cases(cases: list[Case], reps: int, block: int, collector: bool) -> dict[str, float]:
    """Median seconds per step of each case."""
    times: dict[str, list[float]] = {case.engine: [] for case in cases}
    for rep in range(reps):
        rotated = cases[rep % len(cases):] + cases[: rep % len(cases)]
        for case in rotated:
            gc.collect()
            start = time.perf_counter()
            step = case.make()  # fresh state: only this engine's objects are alive
            case.setup_seconds = time.perf_counter() - start
            if not collector:
                gc.disable()
            try:
                for i in range(block + 1):
                    start = time.perf_counter()
                    step()
                    elapsed = time.perf_counter() - start
                    if i > 0:  # the first step of a block is a warm-up
                        times[case.engine].append(elapsed)
            finally:
                gc.enable()
            del step
    gc.collect()
    return {engine: statistics.median(ts) for engine, ts in times.items()}


def bytes_per_node(build, nodes: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = build()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return (after - before) / nodes


# ------------------------------------------------------------------ report
def fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}" if x >= 0.1 else f"{x:.3f}"


def speed_table(title: str, cases: list[Case], on: dict, off: dict, notes: list[str]) -> list[str]:
    nodes = {c.engine: c.nodes for c in cases}
    base_on, base_off = on.get("micrograd"), off.get("micrograd")
    hand_on = on.get("hand-written")
    lines = [
        f"### {title}",
        "",
        "| engine | nodes/step | us/node, gc on | x faster than micrograd | us/node, gc off | x faster than micrograd | x time of hand-written |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        e = c.engine
        per_on = on[e] / c.nodes * 1e6
        per_off = off[e] / c.nodes * 1e6
        ratio_on = (base_on / nodes["micrograd"]) / (on[e] / c.nodes) if base_on else None
        ratio_off = (base_off / nodes["micrograd"]) / (off[e] / c.nodes) if base_off else None
        vs_hand = (on[e] / c.nodes) / (hand_on / nodes["hand-written"]) if hand_on else None
        lines.append(
            f"| {e} | {c.nodes:,} | {fmt(per_on)} | {fmt(ratio_on)} | {fmt(per_off)} | {fmt(ratio_off)} | {fmt(vs_hand)} |"
        )
    lines += [""] + notes + [""]
    return lines


def machine_lines() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    import microgrid

    try:
        micrograd_version = f"micrograd {version('micrograd')}"
    except PackageNotFoundError:
        micrograd_version = "micrograd not installed: skipped (pip install micrograd==0.1.0, or make bench)"
    torch = workloads.torch_or_none()
    return [
        f"- machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); "
        f"microgrid {microgrid.__version__}; {micrograd_version}; "
        + (f"torch {torch.__version__}" if torch else "torch not installed: skipped"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition: checks that it all runs")
    parser.add_argument("--write", action="store_true", help="also save the report to benchmarks/RESULTS.md")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (blocks) per engine")
    args = parser.parse_args(argv)
    report = run(quick=args.quick, reps=args.reps)
    print("\n".join(report))
    if args.write:
        (HERE / "RESULTS.md").write_text("\n".join(report) + "\n")
        print(f"\nwritten to {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(quick: bool = False, reps: int | None = None) -> list[str]:
    """Every workload; the report as Markdown lines."""
    reps = reps or (1 if quick else 6)
    block = 1 if quick else 2
    sizes = dict(points=4, hidden=3, chain_small=50, chain_deep=2_000, wide=200, memory=200) if quick else dict(
        points=100, hidden=16, chain_small=400, chain_deep=1_000_000, wide=20_000, memory=10_000
    )
    engines = workloads.available_engines()
    started = time.perf_counter()
    torch = workloads.torch_or_none()
    lines = ["# Benchmarks", "", "Written by `python benchmarks/run.py --write` (`make bench` prints the same report); medians; "
             "\"x faster\" is micrograd's time per node over the engine's, in the same run.", ""]
    lines += machine_lines()
    if torch is None:
        progress("torch not installed: skipped")
    lines.append("")
    summary: dict[str, float] = {}

    # (a)
    progress("(a) moons step ...")
    cases = workloads.moons_cases(engines, n_points=sizes["points"], hidden=sizes["hidden"])
    on = time_cases(cases, reps, block, collector=True)
    off = time_cases(cases, reps, block, collector=False)
    replay = next((c for c in cases if c.engine == "microgrid replay"), None)
    notes = [
        f"micrograd runs its demo notebook's loss exactly; microgrid runs `nn.MLP(2, [{sizes['hidden']}, {sizes['hidden']}, 1], activation=\"relu\")`, "
        "`losses.hinge`, `losses.l2_penalty`, `optim.SGD`; replay is `microgrid.compile` of that loss "
        "(building the model and recording took {:.2f} s, not counted).".format(replay.setup_seconds if replay else 0.0),
    ]
    lines += speed_table(f"(a) moons step: MLP 2-{sizes['hidden']}-{sizes['hidden']}-1, {sizes['points']} points, "
                         "hinge + L2, forward + backward + SGD", cases, on, off, notes)
    summary.update(_ratios("a", cases, on, off))

    # (b)
    progress("(b) chain ...")
    n = sizes["chain_small"]
    cases = workloads.chain_cases(n, engines)
    on = time_cases(cases, reps, block, collector=True)
    off = time_cases(cases, reps, block, collector=False)
    lines += speed_table(f"(b) chain x -> x * 1.0001 + 0.0001, N = {n:,} (shallow enough for micrograd)", cases, on, off, [])
    summary.update(_ratios("b", cases, on, off))
    deep = sizes["chain_deep"]
    lines += [f"**N = {deep:,}** ({4 * deep + 1:,} nodes), one step each, collector on:", ""]
    for case in workloads.chain_cases(deep, [e for e in engines if e not in ("micrograd", "microgrid replay")]):
        progress(f"(b) chain N = {deep} {case.engine} ...")
        gc.collect()
        step = case.make()
        start = time.perf_counter()
        step()
        seconds = time.perf_counter() - start
        lines.append(f"- {case.engine}: completes, {seconds:.2f} s, {fmt(seconds / case.nodes * 1e6)} us/node")
    gc.collect()
    if "micrograd" in engines:
        lines.append(f"- micrograd: {_micrograd_depth_failure()}")
    lines.append("")

    # (c)
    progress("(c) wide ...")
    n = sizes["wide"]
    cases = workloads.wide_cases(n, engines)
    on = time_cases(cases, reps, block, collector=True)
    off = time_cases(cases, reps, block, collector=False)
    lines += speed_table(f"(c) wide: sum of N = {n:,} products of pairs (summed as a balanced tree), forward + backward",
                         cases, on, off, [])
    summary.update(_ratios("c", cases, on, off))

    # (d)
    progress("(d) memory ...")
    m = sizes["memory"]
    mem_chain = min(m, 400)  # micrograd's recursion: chains deeper than about 1,000 nodes fail
    lines += ["### (d) memory per node (tracemalloc, graph kept alive after backward)", "",
              f"| engine | (b) chain, N = {mem_chain:,}: bytes/node | fraction of micrograd's | (c) wide, N = {m:,}: bytes/node | fraction of micrograd's |",
              "|---|---:|---:|---:|---:|"]
    graph_engines = [e for e in engines if e in ("micrograd", "microgrid", "pytorch")]
    chain_b = workloads.graph_builders("chain", mem_chain, graph_engines)
    wide_b = workloads.graph_builders("wide", m, graph_engines)
    mem = {e: (bytes_per_node(chain_b[e], 4 * mem_chain + 1), bytes_per_node(wide_b[e], 4 * m - 1)) for e in chain_b}
    base = mem.get("micrograd")
    for e, (bc, bw) in mem.items():
        lines.append(f"| {e} | {bc:.0f} | {fmt(bc / base[0] if base else None)} | {bw:.0f} | {fmt(bw / base[1] if base else None)} |")
    lines.append("")
    if "pytorch" in mem:
        lines += ["tracemalloc sees Python's allocations only: PyTorch's C++ graph is not counted.", ""]
    if base:
        summary["memory b"] = mem["microgrid"][0] / base[0]
        summary["memory c"] = mem["microgrid"][1] / base[1]

    lines += _targets(summary)
    lines += ["", f"Total run time {time.perf_counter() - started:.0f} s."]
    return lines


def _ratios(workload: str, cases: list[Case], on: dict, off: dict) -> dict[str, float]:
    nodes = {c.engine: c.nodes for c in cases}
    per_on = {e: on[e] / nodes[e] for e in on}
    per_off = {e: off[e] / nodes[e] for e in off}
    out = {}
    if "micrograd" in per_on:
        out[f"{workload} on"] = per_on["micrograd"] / per_on["microgrid"]
        out[f"{workload} off"] = per_off["micrograd"] / per_off["microgrid"]
    if "hand-written" in per_on and "microgrid replay" in per_on:
        out[f"{workload} replay"] = per_on["microgrid replay"] / per_on["hand-written"]
    return out


def _targets(s: dict[str, float]) -> list[str]:
    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = ["### Targets (issue 7), microgrid against micrograd in this run", ""]
    for w in ("a", "c"):
        if f"{w} on" in s:
            lines.append(f"- ({w}) collector on: {s[f'{w} on']:.1f}x faster (target 10x): {mark(s[f'{w} on'] >= 10)}")
            lines.append(f"- ({w}) collector off: {s[f'{w} off']:.1f}x faster (target 2x): {mark(s[f'{w} off'] >= 2)}")
    for w in ("b", "c"):
        key = f"memory {w}"
        if key in s:
            lines.append(f"- ({w}) memory: {s[key]:.2f} of micrograd's per node (target at most 0.33): {mark(s[key] <= 1 / 3)}")
    if "a replay" in s:
        lines.append(f"- (a) replay: {s['a replay']:.2f}x the hand-written time (target at most 2x): {mark(s['a replay'] <= 2)}")
    return lines


def _micrograd_depth_failure() -> str:
    """Where micrograd's recursive backward gives up (it cannot reach 10^6)."""
    from micrograd.engine import Value as MgValue

    for n in (250, 500, 1_000, 2_000):
        try:
            workloads.chain(MgValue(0.5), n).backward()
        except RecursionError:
            return f"cannot: RecursionError already at N = {n:,} ({4 * n + 1:,} nodes; Python's default recursion limit {sys.getrecursionlimit():,})"
    return "completed N = 2,000 (recursion limit raised?); N = 10^6 not attempted"


if __name__ == "__main__":
    sys.exit(main())
