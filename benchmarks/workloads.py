"""The benchmark workloads, each written once per engine.

A *case* is one engine on one workload: a ``step()`` that does the whole
unit of work (build the graph, backward, update where the workload has one)
and the number of graph nodes a step makes, so that engines are compared per
node.  The workloads (issue 7):

* (a) ``moons``: one training step of micrograd's demo: MLP 2-16-16-1 with
  relu, 100 moons points, hinge loss + L2 (alpha 1e-4), forward + backward +
  SGD update.
* (b) ``chain``: x -> x * 1.0001 + 0.0001, N times, forward + backward.
  Deep: N = 10^6 for the engines that can.
* (c) ``wide``: the sum of N products a_i * b_i, forward + backward.  The sum
  is a balanced tree (pairs, then pairs of pairs...), so the graph is wide and
  shallow and micrograd's recursive walk can do it.

Node counts include the leaves (parameters, data, and the constants an
engine lifts to nodes, such as the 1.0001 of the chain).  The hand-written
code and PyTorch are charged per node of microgrid's graph of the same work.

    >>> case = chain_cases(10, ["microgrid"])[0]
    >>> step = case.make()
    >>> case.nodes, step() is None
    (41, True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import handwritten

ENGINES = ["micrograd", "microgrid", "microgrid replay", "pytorch", "hand-written"]
LEARNING_RATE = 0.05
ALPHA = 1e-4


@dataclass
class Case:
    """One engine on one workload.  ``make()`` builds fresh state (model,
    leaves, recording) and returns the ``step`` to time, so that an engine's
    objects are alive only while it is measured and never slow down another
    engine's garbage collections."""

    engine: str
    nodes: int  # graph nodes per step
    make: Callable[[], Callable[[], None]]
    setup_seconds: float = 0.0  # one-off cost inside make() (replay's recording), not timed


def available_engines() -> list[str]:
    """ENGINES minus those not installed (micrograd and torch are optional)."""
    engines = list(ENGINES)
    try:
        import micrograd  # noqa: F401
    except ImportError:
        engines.remove("micrograd")
    if torch_or_none() is None:
        engines.remove("pytorch")
    return engines


def torch_or_none():
    """The torch module, or None when it is not installed (the benchmark then skips it)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# ------------------------------------------------------------ counting nodes
def count_microgrid(root) -> int:
    from microgrid.engine import topological_order

    return len(topological_order(root))


def count_micrograd(root) -> int:
    """Nodes of a micrograd graph, walked iteratively (its own walk is recursive)."""
    seen = {root}
    stack = [root]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


# ------------------------------------------------- (a) micrograd's moons demo
def moons_data(n_points: int, seed: int = 1337) -> tuple[list[list[float]], list[int]]:
    from microgrid.data import make_moons

    X, y = make_moons(n_points, noise=0.1, seed=seed)
    return X, [2 * t - 1 for t in y]  # targets -1 / +1 for the hinge loss


def moons_cases(engines: list[str], n_points: int = 100, hidden: int = 16) -> list[Case]:
    X, Y = moons_data(n_points)
    sizes = [hidden, hidden, 1]
    makers = {
        "microgrid": lambda: _microgrid_moons(X, Y, sizes, replay=False),
        "microgrid replay": lambda: _microgrid_moons(X, Y, sizes, replay=True),
        "micrograd": lambda: _micrograd_moons(X, Y, sizes),
        "hand-written": lambda: _hand_moons(X, Y, sizes),
        "pytorch": lambda: _torch_moons(X, Y, sizes),
    }
    from microgrid import losses, nn

    model = nn.MLP(2, sizes, activation="relu", seed=1337)
    microgrid_nodes = count_microgrid(losses.hinge([model(x) for x in X], Y) + losses.l2_penalty(model.parameters(), ALPHA))
    cases = []
    for engine in engines:
        if engine == "pytorch" and torch_or_none() is None:
            continue
        nodes = microgrid_nodes
        if engine == "micrograd":
            nodes = count_micrograd(_micrograd_moons(X, Y, sizes, loss_only=True)())
        cases.append(Case(engine, nodes, makers[engine]))
    return cases


def _microgrid_moons(X, Y, sizes, replay: bool) -> Callable[[], None]:
    """microgrid as its users write it: nn, losses, optim."""
    import microgrid
    from microgrid import losses, nn, optim

    model = nn.MLP(2, sizes, activation="relu", seed=1337)
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def loss():
        scores = [model(x) for x in X]
        return losses.hinge(scores, Y) + losses.l2_penalty(model.parameters(), ALPHA)

    if not replay:

        def step():
            opt.zero_grad()
            loss().backward()
            opt.step()

        step.model = model  # for the smoke test
        return step

    recorded = microgrid.compile(loss, model.parameters())

    def replay_step():
        opt.zero_grad()
        recorded()
        opt.step()

    replay_step.model = model
    return replay_step


def _micrograd_moons(X, Y, sizes, loss_only: bool = False) -> Callable:
    """The demo notebook's training step (its loss() without the accuracy)."""
    from micrograd import nn as mg_nn
    from micrograd.engine import Value

    random.seed(1337)
    model = mg_nn.MLP(2, sizes)

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        data_losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores)]
        data_loss = sum(data_losses) * (1.0 / len(data_losses))
        reg_loss = ALPHA * sum((p * p for p in model.parameters()))
        return data_loss + reg_loss

    if loss_only:
        return loss

    def step():
        total_loss = loss()
        model.zero_grad()
        total_loss.backward()
        for p in model.parameters():
            p.data -= LEARNING_RATE * p.grad

    return step


def _hand_moons(X, Y, sizes) -> Callable[[], None]:
    layers = handwritten.init_mlp([2] + sizes, seed=1337)

    def step():
        _, grads = handwritten.mlp_loss_and_grads(layers, X, Y, ALPHA)
        handwritten.sgd_update(layers, grads, LEARNING_RATE)

    return step


def _torch_moons(X, Y, sizes) -> Callable[[], None]:
    """Every scalar a 0-d float64 tensor, the same network and loss."""
    torch = torch_or_none()
    rng = random.Random(1337)
    layers = []
    for nin, nout in zip([2] + sizes, sizes):
        W = [[torch.tensor(rng.uniform(-1, 1), dtype=torch.float64, requires_grad=True) for _ in range(nin)] for _ in range(nout)]
        b = [torch.tensor(0.0, dtype=torch.float64, requires_grad=True) for _ in range(nout)]
        layers.append((W, b))
    params = [p for W, b in layers for row, bj in zip(W, b) for p in row + [bj]]

    def step():
        scores = []
        for x in X:
            a = [torch.tensor(xk, dtype=torch.float64) for xk in x]
            for i, (W, b) in enumerate(layers):
                z = []
                for row, bj in zip(W, b):
                    s = row[0] * a[0]
                    for w, ak in zip(row[1:], a[1:]):
                        s = s + w * ak
                    z.append(s + bj)
                a = z if i == len(layers) - 1 else [zj.relu() for zj in z]
            scores.append(a[0])
        data_loss = sum((1 - y * s).relu() for y, s in zip(Y, scores)) * (1.0 / len(scores))
        total = data_loss + ALPHA * sum(p * p for p in params)
        for p in params:
            p.grad = None
        total.backward()
        with torch.no_grad():
            for p in params:
                p -= LEARNING_RATE * p.grad

    return step


# ------------------------------------------------------------ (b) deep chain
def chain(x, n: int):
    """x -> x * 1.0001 + 0.0001, n times (any engine's scalar type)."""
    for _ in range(n):
        x = x * 1.0001 + 0.0001
    return x


def chain_cases(n: int, engines: list[str]) -> list[Case]:
    nodes = 4 * n + 1  # x, then per step: the constant 1.0001, the product, the constant 0.0001, the sum
    cases = []
    for engine in engines:
        if engine == "microgrid":
            from microgrid import Value

            def step(Value=Value):
                chain(Value(0.5), n).backward()

        elif engine == "microgrid replay":
            cases.append(Case(engine, nodes, lambda: _chain_replay(n)))
            continue

        elif engine == "micrograd":
            from micrograd.engine import Value as MgValue

            def step(MgValue=MgValue):
                chain(MgValue(0.5), n).backward()

        elif engine == "hand-written":

            def step():
                handwritten.chain(0.5, n)

        elif engine == "pytorch" and torch_or_none() is not None:

            def step(torch=torch_or_none()):
                chain(torch.tensor(0.5, dtype=torch.float64, requires_grad=True), n).backward()

        else:
            continue
        cases.append(Case(engine, nodes, lambda step=step: step))
    return cases


def _chain_replay(n: int) -> Callable[[], None]:
    import microgrid
    from microgrid import Value

    x = Value(0.5)
    recorded = microgrid.compile(lambda x: chain(x, n), [x])

    def step():
        x.grad = 0.0
        recorded()

    return step


# -------------------------------------------------------- (c) wide and shallow
def tree_sum(terms: list):
    """t0 + t1 + ... added in pairs, then pairs of pairs: depth log2(N), not N."""
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2])]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


def wide_pairs(n: int, seed: int = 0) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(n)], [rng.uniform(-1, 1) for _ in range(n)]


def wide_cases(n: int, engines: list[str]) -> list[Case]:
    nodes = 2 * n + n + (n - 1)  # leaves, products, sums
    cases = []
    for engine in engines:
        if engine == "pytorch" and torch_or_none() is None:
            continue
        if engine in ("microgrid", "micrograd", "microgrid replay", "pytorch"):
            cases.append(Case(engine, nodes, lambda engine=engine: _wide_graph_step(engine, n)))
        elif engine == "hand-written":
            a, b = wide_pairs(n)
            cases.append(Case(engine, nodes, lambda a=a, b=b: lambda: handwritten.wide(a, b)))
    return cases


def _wide_graph_step(engine: str, n: int) -> Callable[[], None]:
    """Leaves made once (like parameters); each step builds the products and the sum."""
    a, b = wide_pairs(n)
    if engine == "micrograd":
        from micrograd.engine import Value as V
    elif engine == "pytorch":
        torch = torch_or_none()

        def V(x):
            return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    else:
        from microgrid import Value as V
    leaves = [V(x) for x in a + b]
    zero = None if engine == "pytorch" else 0.0

    def build(*_):
        return tree_sum([x * y for x, y in zip(leaves[:n], leaves[n:])])

    if engine == "microgrid replay":
        import microgrid

        recorded = microgrid.compile(build, leaves)

        def step():
            for leaf in leaves:
                leaf.grad = 0.0
            recorded()

        return step

    def step():
        for leaf in leaves:
            leaf.grad = zero
        build().backward()

    return step


# ------------------------------------------------------- (d) memory per node
def graph_builders(workload: str, n: int, engines: list[str]) -> dict[str, Callable[[], object]]:
    """For each graph engine: a function that builds the workload's graph, runs
    backward, and returns what keeps the graph alive (for tracemalloc)."""
    builders: dict[str, Callable[[], object]] = {}
    a, b = wide_pairs(n)
    for engine in engines:
        if engine == "microgrid":
            from microgrid import Value as V
        elif engine == "micrograd":
            from micrograd.engine import Value as V
        elif engine == "pytorch" and torch_or_none() is not None:
            torch = torch_or_none()

            def V(x, torch=torch):
                return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)

        else:
            continue
        if workload == "chain":

            def build(V=V):
                root = chain(V(0.5), n)
                root.backward(retain_graph=True) if hasattr(root, "retain_grad") else root.backward()
                return root

        else:

            def build(V=V):
                leaves = [V(x) for x in a + b]
                root = tree_sum([x * y for x, y in zip(leaves[:n], leaves[n:])])
                root.backward(retain_graph=True) if hasattr(root, "retain_grad") else root.backward()
                return root, leaves

        builders[engine] = build
    return builders
