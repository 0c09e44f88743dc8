"""``make bench``: microgrid against micrograd, PyTorch and hand-written Python.

    python benchmarks/run.py            # the full run (minutes), prints Markdown
    python benchmarks/run.py --write    # ... and saves it as the latest run in benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # tiny sizes: checks that everything runs

How it measures (the machine is shared and noisy, so only ratios within one
run mean anything):

* Each engine runs in a process of its own (worker.py), started with the
  collector on (as users run Python) or off, so that no engine's imports or
  objects tax another's garbage collections.
* Engines alternate: a repetition asks every engine's process for one
  *block*, in a rotated order, so a slow spell hits them all.  A block is
  consecutive steps, as a training loop runs them (at least 3 steps and
  half a second), timed as a whole: the garbage one step leaves is
  collected during the next ones, which is where micrograd loses most of
  its time, and a block's mean charges those collections as a loop pays
  them.  Each process warms up (one step) before its first block.
* Per repetition, each engine's time per node is compared with micrograd's
  block of the same repetition: the ratios are the medians of these
  per-repetition ratios, with their spread (lowest-highest); times per node
  are the medians of the blocks.
* Memory: `tracemalloc` while a graph is built and differentiated, bytes
  still held per node with the graph alive.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import workloads

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
# RESULTS.md holds notes written by hand above this line and the latest run below it.
LATEST_RUN = "<!-- The latest run, below: written by `python benchmarks/run.py --write`. Edit only above this line. -->"
SIZES = {
    "full": dict(
        points=100, hidden=16, chain=400, chain_deep=1_000_000, wide=20_000, memory=10_000, batch_large=10_000
    ),
    "quick": dict(points=4, hidden=3, chain=50, chain_deep=2_000, wide=200, memory=200, batch_large=50),
}


# ------------------------------------------------------------------ timing
class Worker:
    """One engine on one workload, in its own process (worker.py)."""

    def __init__(self, workload: str, engine: str, size: dict, collector: bool, warmup: int = 1):
        self.engine = engine
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py")],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        spec = dict(workload=workload, engine=engine, size=size, collector=collector, warmup=warmup)
        self.setup = self._ask(spec)["setup"]

    def block(self, steps: int, seconds: float) -> float:
        """Seconds per step over a block of at least `steps` steps and `seconds` seconds."""
        reply = self._ask({"steps": steps, "seconds": seconds})
        return reply["seconds"] / reply["steps"]

    def _ask(self, message: dict) -> dict:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.engine} worker failed (its error is above)")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


@dataclass
class Timing:
    """Seconds per step of each engine, one entry per repetition, and what a step is."""

    nodes: dict[str, int]
    seconds: dict[str, list[float]]
    setup: dict[str, float]

    def per_node(self, engine: str) -> list[float]:
        return [t / self.nodes[engine] for t in self.seconds[engine]]

    def ratios(self, slow: str, fast: str) -> list[float]:
        """Per repetition: slow's time per node over fast's (how many times faster fast is)."""
        return [s / f for s, f in zip(self.per_node(slow), self.per_node(fast), strict=False)]


def time_engines(workload: str, size: dict, engines: list[str], nodes: dict, collector: bool, plan: dict) -> Timing:
    workers = [Worker(workload, e, size, collector) for e in engines]  # idle ones wait, using no CPU
    seconds: dict[str, list[float]] = {e: [] for e in engines}
    try:
        for rep in range(plan["reps"]):
            for worker in workers[rep % len(workers) :] + workers[: rep % len(workers)]:
                seconds[worker.engine].append(worker.block(plan["steps"], plan["seconds"]))
    finally:
        for worker in workers:
            worker.close()
    return Timing(nodes, seconds, {w.engine: w.setup for w in workers})


def time_once(workload: str, size: dict, engine: str) -> float:
    """One step in a fresh process, collector on (the deep chain)."""
    worker = Worker(workload, engine, size, collector=True, warmup=0)
    try:
        return worker.block(1, 0.0)
    finally:
        worker.close()


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


def replay_matches_eager(size: dict, steps: int = 3) -> tuple[bool, int]:
    """Whether the timed replay step and the timed eager step, from the same
    model, give the same loss, gradients and updated parameters, to the bit,
    at every step; and how many parameters were compared."""
    eager = workloads.make_step("moons", "microgrid", size)
    replay = workloads.make_step("moons", "microgrid replay", size)
    same = True
    for _ in range(steps):
        same &= eager() == replay()
        grads = [[p.grad for p in step.model.parameters()] for step in (eager, replay)]
        same &= grads[0] == grads[1] and eager.model.state_dict() == replay.model.state_dict()
    return same, len(grads[0])


# ------------------------------------------------------------------ report
class Spread:
    """The median of some numbers, shown with their range: ``24.5 (21.0-27.3)``."""

    def __init__(self, values: list[float]):
        self.values = values
        self.median, self.low, self.high = statistics.median(values), min(values), max(values)

    def __str__(self) -> str:
        if len(self.values) == 1:
            return fmt(self.median)
        return f"{fmt(self.median)} ({fmt(self.low)}-{fmt(self.high)})"


def fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}" if x >= 0.1 else f"{x:.3f}"


def speed_table(title: str, on: Timing, off: Timing, notes: list[str]) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| engine | nodes/step | us/node, gc on | x faster than micrograd, gc on | us/node, gc off "
        "| x faster than micrograd, gc off | x time of hand-written, gc on |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in on.seconds:
        cells = [e, f"{on.nodes[e]:,}", fmt(statistics.median(on.per_node(e)) * 1e6)]
        cells.append(str(Spread(on.ratios("micrograd", e))) if "micrograd" in on.seconds else "-")
        cells.append(fmt(statistics.median(off.per_node(e)) * 1e6))
        cells.append(str(Spread(off.ratios("micrograd", e))) if "micrograd" in off.seconds else "-")
        cells.append(str(Spread(on.ratios(e, "hand-written"))) if "hand-written" in on.seconds else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""] + notes + ([""] if notes else [])


def machine_lines() -> list[str]:
    import microgrid

    def installed(package: str, missing: str) -> str:
        try:
            return f"{package} {version(package)}"
        except PackageNotFoundError:
            return missing

    return [
        f"- machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); "
        f"microgrid {microgrid.__version__}; "
        + installed("micrograd", "micrograd not installed: skipped (pip install micrograd==0.1.0, or make bench)")
        + "; "
        + installed("torch", "torch not installed: skipped"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition: checks that it all runs")
    parser.add_argument(
        "--write", action="store_true", help="also save the report as the latest run in benchmarks/RESULTS.md"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (blocks per engine)")
    args = parser.parse_args(argv)
    report, ok = run(quick=args.quick, reps=args.reps)
    print("\n".join(report))
    if args.write:
        write_latest_run(report)
        print(f"\nwritten to {RESULTS}", file=sys.stderr)
    return 0 if ok else 1


def write_latest_run(report: list[str], path: Path = RESULTS) -> None:
    """Replace what follows `LATEST_RUN` in `path` with `report`, keeping the notes above it.

    A file without the line keeps all of its text, and gets the line and the run at its end.
    """
    text = path.read_text() if path.exists() else ""
    notes = text.partition(LATEST_RUN)[0].rstrip("\n") or "# Benchmarks"
    path.write_text(notes + "\n\n" + LATEST_RUN + "\n\n" + "\n".join(report) + "\n")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(quick: bool = False, reps: int | None = None) -> tuple[list[str], bool]:
    """Every workload: the report as Markdown lines, and whether replay matched eager."""
    sizes = SIZES["quick" if quick else "full"]
    plan = dict(reps=reps or (1 if quick else 11), steps=1 if quick else 3, seconds=0.0 if quick else 0.5)
    engines = workloads.available_engines()
    started = time.perf_counter()
    lines = [
        "## The latest run",
        "",
        "Written by `python benchmarks/run.py --write` (`make bench` prints the same report). "
        "\"x faster\" is micrograd's time per node over the engine's, in the same repetition: the median over "
        f"{plan['reps']} repetitions, and in brackets the lowest and highest; times per node are medians. "
        "Each engine runs in a process of its own.",
        "",
    ]
    lines += machine_lines()
    if "pytorch" not in engines:
        progress("torch not installed: skipped")
    lines.append("")
    summary: dict[str, list[float]] = {}

    def measure(key: str, workload: str, size: dict) -> tuple[Timing, Timing]:
        nodes = {e: workloads.nodes(workload, e, size) for e in engines}
        timings = []
        for collector in (True, False):
            progress(f"({key}) {workload}, collector {'on' if collector else 'off'} ...")
            timings.append(time_engines(workload, size, engines, nodes, collector, plan))
        on, off = timings
        if "micrograd" in engines:
            summary[f"{key} on"] = on.ratios("micrograd", "microgrid")
            summary[f"{key} off"] = off.ratios("micrograd", "microgrid")
        summary[f"{key} replay"] = on.ratios("microgrid replay", "hand-written")
        return on, off

    # (a)
    X, Y = workloads.moons_data(sizes["points"])
    h = sizes["hidden"]
    moons = dict(X=X, Y=Y, hidden=h)
    on, off = measure("a", "moons", moons)
    identical, n_params = replay_matches_eager(moons)
    notes = [
        "micrograd runs its demo notebook's loss exactly; microgrid runs "
        f'`nn.MLP(2, [{h}, {h}, 1], activation="relu")`, `losses.hinge`, `losses.l2_penalty`, `optim.SGD`; '
        "replay is `microgrid.compile` of that loss, with its default checks (the loss recorded again and compared "
        "at calls 1, 2, 4, ..., 128, then every 200th: those in the timed blocks are counted); building the model "
        f"and recording took {on.setup['microgrid replay']:.2f} s, not counted.",
        "",
        f"Replay's loss, {n_params} gradients and updated parameters equal the eager step's, "
        f"bit for bit, over 3 SGD steps on these {sizes['points']} points: "
        + ("yes." if identical else "**NO: replay differs from eager**."),
    ]
    lines += speed_table(
        f"(a) moons step: MLP 2-{h}-{h}-1, {sizes['points']} points, hinge + L2, forward + backward + SGD",
        on,
        off,
        notes,
    )

    # (b)
    n = sizes["chain"]
    on, off = measure("b", "chain", {"n": n})
    notes = [
        "hand-written: the forward pass keeps each step's input, the reverse pass gives d/dx and the gradients "
        "of every step's two constants, equal to the engine's to the bit (tested)."
    ]
    lines += speed_table(
        f"(b) chain x -> x * 1.0001 + 0.0001, N = {n:,} (shallow enough for micrograd)", on, off, notes
    )
    deep = sizes["chain_deep"]
    lines += [f"**N = {deep:,}** ({4 * deep + 1:,} nodes), one step each in a fresh process, collector on:", ""]
    for engine in [e for e in engines if e not in ("micrograd", "microgrid replay")]:
        progress(f"(b) chain N = {deep:,} {engine} ...")
        seconds = time_once("chain", {"n": deep}, engine)
        lines.append(f"- {engine}: completes, {seconds:.2f} s, {fmt(seconds / (4 * deep + 1) * 1e6)} us/node")
    if "micrograd" in engines:
        lines.append(f"- micrograd: {_micrograd_depth_failure()}")
    lines.append("")

    # (c)
    n = sizes["wide"]
    on, off = measure("c", "wide", {"n": n})
    notes = [
        "The 2N leaves are made once, like parameters; a step resets their gradients, builds the products and "
        "the sum and runs backward, the same code for every engine.  hand-written: the products and every level "
        "of the tree forward, the gradients back down the levels, equal to the engine's to the bit (tested)."
    ]
    lines += speed_table(
        f"(c) wide: sum of N = {n:,} products of pairs (summed as a balanced tree), forward + backward", on, off, notes
    )

    # (e)
    lines += batch_tables(sizes, engines, plan)

    # (d)
    progress("(d) memory ...")
    m = sizes["memory"]
    mem_chain = min(m, 400)  # micrograd's recursion: chains deeper than about 1,000 nodes fail
    lines += [
        "### (d) memory per node (tracemalloc, graph kept alive after backward)",
        "",
        f"| engine | (b) chain, N = {mem_chain:,}: bytes/node | fraction of micrograd's "
        f"| (c) wide, N = {m:,}: bytes/node | fraction of micrograd's |",
        "|---|---:|---:|---:|---:|",
    ]
    mem = {
        e: (
            bytes_per_node(workloads.graph_builder("chain", mem_chain, e), 4 * mem_chain + 1),
            bytes_per_node(workloads.graph_builder("wide", m, e), 4 * m - 1),
        )
        for e in engines
        if e in ("micrograd", "microgrid")
    }
    base = mem.get("micrograd")
    for e, (bc, bw) in mem.items():
        lines.append(
            f"| {e} | {bc:.0f} | {fmt(bc / base[0] if base else None)} "
            f"| {bw:.0f} | {fmt(bw / base[1] if base else None)} |"
        )
    lines += [
        "",
        "PyTorch is not in this table: tracemalloc sees only Python's allocations, not its C++ autograd graph.",
        "",
    ]
    if base:
        summary["memory b"] = [mem["microgrid"][0] / base[0]]
        summary["memory c"] = [mem["microgrid"][1] / base[1]]

    lines += _targets(summary, identical)
    lines += ["", f"Total run time {time.perf_counter() - started:.0f} s."]
    return lines, identical


def batch_tables(sizes: dict, engines: list[str], plan: dict) -> list[str]:
    """(e): the batch replay against the eager engine, micrograd and batched PyTorch, per moons step."""
    lines = [
        "### (e) batch replay: the moons step over N points at once, forward + backward + SGD",
        "",
        "| N | engine | ms/step, gc on | x faster than microgrid eager | x faster than PyTorch (batched) |",
        "|---:|---|---:|---:|---:|",
    ]
    torch = "pytorch" in engines
    for n, names in (
        (sizes["points"], ["microgrid", "micrograd", "microgrid batch"]),
        (sizes["batch_large"], ["microgrid batch"]),
    ):
        names = [e for e in names if e in engines or e == "microgrid batch"] + (["pytorch batch"] if torch else [])
        X, Y = workloads.moons_data(n)
        size = dict(X=X, Y=Y, hidden=sizes["hidden"])
        progress(f"(e) batch, N = {n:,} ...")
        timing = time_engines("moons", size, names, {e: 1 for e in names}, True, plan)
        for e in names:
            eager = str(Spread(timing.ratios("microgrid", e))) if "microgrid" in names else "-"
            versus = str(Spread(timing.ratios("pytorch batch", e))) if torch else "-"
            lines.append(f"| {n:,} | {e} | {fmt(statistics.median(timing.seconds[e]) * 1e3)} | {eager} | {versus} |")
    return [
        *lines,
        "",
        "microgrid batch: `microgrid.compile(loss of one sample, params, batch=[x1, x2, y])`, "
        "each node an array of N (numpy); PyTorch (batched): the same network as `nn.Linear` layers on "
        "an (N, 2) float64 tensor. The eager engine and micrograd are timed at the small N only.",
        "",
    ]


def _targets(s: dict[str, list[float]], identical: bool) -> list[str]:
    def verdict(values: list[float], ok, target: str) -> str:
        spread = Spread(values)
        met = "met" if ok(spread.median) else "**not met**"
        missed = sum(not ok(v) for v in values)
        if len(values) > 1:
            met += (
                f" ({missed} of {len(values)} repetitions miss it)"
                if missed
                else f" (by all {len(values)} repetitions)"
            )
        return f"{spread} (target {target}): {met}"

    lines = ["### Targets, microgrid against micrograd, medians over the repetitions (lowest-highest)", ""]
    for w in ("a", "b", "c"):
        lines.append(
            f"- ({w}) generated replay: x the hand-written time "
            + verdict(s[f"{w} replay"], lambda r: r <= 1, "at most 1x")
        )
    for w in ("a", "c"):
        if f"{w} on" in s:
            lines.append(f"- ({w}) collector on: x faster {verdict(s[f'{w} on'], lambda r: r >= 10, '10x')}")
            lines.append(f"- ({w}) collector off: x faster {verdict(s[f'{w} off'], lambda r: r >= 2, '2x')}")
    for w in ("b", "c"):
        if f"memory {w}" in s:
            lines.append(
                f"- ({w}) memory: fraction of micrograd's per node "
                + verdict(s[f"memory {w}"], lambda r: r <= 1 / 3, "at most 0.33")
            )
    lines.append(
        f"- (a) replay: x the hand-written time {verdict(s['a replay'], lambda r: r <= 2, 'at most 2x')}; "
        + ("results identical to eager" if identical else "**results differ from eager**")
    )
    return lines


def _micrograd_depth_failure() -> str:
    """Where micrograd's recursive backward gives up (it cannot reach 10^6)."""
    from micrograd.engine import Value as MgValue

    for n in (250, 500, 1_000, 2_000):
        try:
            workloads.chain(MgValue(0.5), n).backward()
        except RecursionError:
            return (
                f"cannot: RecursionError already at N = {n:,} ({4 * n + 1:,} nodes; "
                f"Python's default recursion limit {sys.getrecursionlimit():,})"
            )
    return "completed N = 2,000 (recursion limit raised?); N = 10^6 not attempted"


if __name__ == "__main__":
    sys.exit(main())
