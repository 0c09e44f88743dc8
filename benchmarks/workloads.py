"""The benchmark workloads, each written once per engine.

`make_step(workload, engine, size)` builds fresh state for one engine on one
workload (model, leaves, recording) and returns the ``step()`` to time: the
whole unit of work (build the graph, backward, update where the workload
has one).  `nodes` is the number of graph nodes a step makes, so that
engines are compared per node.  The workloads:

* (a) ``moons``: one training step of micrograd's demo: MLP 2-16-16-1 with
  relu, 100 moons points, hinge loss + L2 (alpha 1e-4), forward + backward +
  SGD update.  The points come in `size` (made by the caller), so that no
  engine's process needs another's package to make them.
* (b) ``chain``: x -> x * 1.0001 + 0.0001, N times, forward + backward.
  Deep: N = 10^6 for the engines that can.
* (c) ``wide``: the sum of N products a_i * b_i, forward + backward.  The sum
  is a balanced tree (pairs, then pairs of pairs...), so the graph is wide and
  shallow and micrograd's recursive walk can do it.

Node counts include the leaves (parameters, data, and the constants an
engine lifts to nodes, such as the 1.0001 of the chain).  The hand-written
code and PyTorch are charged per node of microgrid's graph of the same work.

Nothing here imports an engine until a step for it is made: run.py times each
engine in a process of its own, and one engine's imports (torch's are large)
must not slow down another's garbage collections.

    >>> step = make_step("chain", "microgrid", {"n": 10})
    >>> nodes("chain", "microgrid", {"n": 10}), step() is None
    (41, True)
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable

import handwritten

ENGINES = ["micrograd", "microgrid", "microgrid replay", "pytorch", "hand-written"]
LEARNING_RATE = 0.05
ALPHA = 1e-4


def available_engines() -> list[str]:
    """ENGINES minus those not installed (micrograd and torch are optional),
    found without importing them."""
    missing = {"micrograd": "micrograd", "pytorch": "torch"}
    return [e for e in ENGINES if e not in missing or importlib.util.find_spec(missing[e]) is not None]


def make_step(workload: str, engine: str, size: dict) -> Callable[[], object]:
    """Fresh state for `engine` on `workload`; returns the step to time."""
    return {"moons": moons_step, "chain": chain_step, "wide": wide_step}[workload](engine, **size)


def nodes(workload: str, engine: str, size: dict) -> int:
    """Graph nodes per step (micrograd's own graph for micrograd, microgrid's for the others)."""
    if workload == "chain":
        return 4 * size["n"] + 1  # x, then per step: the constant 1.0001, the product, the constant 0.0001, the sum
    if workload == "wide":
        n = size["n"]
        return 2 * n + n + (n - 1)  # leaves, products, sums
    X, Y, hidden = size["X"], size["Y"], size["hidden"]
    if engine == "micrograd":
        return count_micrograd(_micrograd_moons(X, Y, [hidden, hidden, 1], loss_only=True)())
    from microgrid import nn
    from microgrid.engine import topological_order
    from microgrid.nn import losses

    model = nn.MLP(2, [hidden, hidden, 1], activation="relu", seed=1337)
    return len(topological_order(losses.hinge([model(x) for x in X], Y) + losses.l2_penalty(model.parameters(), ALPHA)))


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


def _torch():
    import torch

    return torch


# ------------------------------------------------- (a) micrograd's moons demo
def moons_data(n_points: int, seed: int = 1337) -> tuple[list[list[float]], list[int]]:
    from microgrid.nn.data import make_moons

    X, y = make_moons(n_points, noise=0.1, seed=seed)
    return X, [2 * t - 1 for t in y]  # targets -1 / +1 for the hinge loss


def moons_step(engine: str, X: list, Y: list, hidden: int) -> Callable[[], object]:
    sizes = [hidden, hidden, 1]
    if engine == "microgrid batch":
        return _batch_moons(X, Y, sizes)
    if engine == "pytorch batch":
        return _torch_batch_moons(X, Y, sizes)
    if engine in ("microgrid", "microgrid replay"):
        return _microgrid_moons(X, Y, sizes, replay=engine == "microgrid replay")
    if engine == "micrograd":
        return _micrograd_moons(X, Y, sizes)
    if engine == "pytorch":
        return _torch_moons(X, Y, sizes)
    return _hand_moons(X, Y, sizes)


def _microgrid_moons(X, Y, sizes, replay: bool) -> Callable[[], float]:
    """microgrid as its users write it: nn, losses, optim; the step returns the loss."""
    import microgrid
    from microgrid import nn
    from microgrid.nn import losses, optim

    model = nn.MLP(2, sizes, activation="relu", seed=1337)
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def loss():
        scores = [model(x) for x in X]
        return losses.hinge(scores, Y) + losses.l2_penalty(model.parameters(), ALPHA)

    if not replay:

        def step():
            opt.zero_grad()
            total = loss()
            total.backward()
            opt.step()
            return total.data

    else:
        recorded = microgrid.compile(loss, model.parameters())  # checks as by default

        def step():
            opt.zero_grad()
            total = recorded()
            opt.step()
            return total

    step.model = model  # for the checks that replay trains as eager does
    return step


def _batch_moons(X, Y, sizes) -> Callable[[], float]:
    """`microgrid.compile(..., batch=...)`: one sample's loss, run over all points at once on numpy arrays."""
    import microgrid
    from microgrid import Value, nn
    from microgrid.nn import losses, optim

    model = nn.MLP(2, sizes, activation="relu", seed=1337)
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE)
    x1, x2, y = Value(0.0), Value(0.0), Value(1.0)
    params = model.parameters()
    recorded = microgrid.compile(
        lambda: (1 - y * model([x1, x2])).relu() + losses.l2_penalty(params, ALPHA), params, batch=[x1, x2, y]
    )
    columns = ([x[0] for x in X], [x[1] for x in X], list(Y))

    def step():
        opt.zero_grad()
        total = recorded(*columns)
        opt.step()
        return total

    step.model = model
    return step


def _torch_batch_moons(X, Y, sizes) -> Callable[[], None]:
    """PyTorch as it is meant to be used: the points as one (N, 2) float64 tensor, nn.Linear layers."""
    torch = _torch()
    torch.manual_seed(1337)
    layers, nin = [], 2
    for nout in sizes:
        layers += [torch.nn.Linear(nin, nout, dtype=torch.float64), torch.nn.ReLU()]
        nin = nout
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    inputs, targets = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)

    def step():
        scores = model(inputs)[:, 0]
        loss = torch.relu(1 - targets * scores).mean() + ALPHA * sum((p * p).sum() for p in model.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _micrograd_moons(X, Y, sizes, loss_only: bool = False) -> Callable:
    """The demo notebook's training step (its loss() without the accuracy)."""
    from micrograd import nn as mg_nn
    from micrograd.engine import Value

    random.seed(1337)
    model = mg_nn.MLP(2, sizes)

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        data_losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(Y, scores, strict=False)]
        data_loss = sum(data_losses) * (1.0 / len(data_losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
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
    layers = handwritten.init_mlp([2, *sizes], seed=1337)

    def step():
        _, grads = handwritten.mlp_loss_and_grads(layers, X, Y, ALPHA)
        handwritten.sgd_update(layers, grads, LEARNING_RATE)

    return step


def _torch_moons(X, Y, sizes) -> Callable[[], None]:
    """Every scalar a 0-d float64 tensor, the same network and loss."""
    torch = _torch()
    rng = random.Random(1337)
    layers = []
    for nin, nout in zip([2, *sizes], sizes, strict=False):
        W = [
            [torch.tensor(rng.uniform(-1, 1), dtype=torch.float64, requires_grad=True) for _ in range(nin)]
            for _ in range(nout)
        ]
        b = [torch.tensor(0.0, dtype=torch.float64, requires_grad=True) for _ in range(nout)]
        layers.append((W, b))
    params = [p for W, b in layers for row, bj in zip(W, b, strict=False) for p in [*row, bj]]

    def step():
        scores = []
        for x in X:
            a = [torch.tensor(xk, dtype=torch.float64) for xk in x]
            for i, (W, b) in enumerate(layers):
                z = []
                for row, bj in zip(W, b, strict=False):
                    s = row[0] * a[0]
                    for w, ak in zip(row[1:], a[1:], strict=False):
                        s = s + w * ak
                    z.append(s + bj)
                a = z if i == len(layers) - 1 else [zj.relu() for zj in z]
            scores.append(a[0])
        data_loss = sum((1 - y * s).relu() for y, s in zip(Y, scores, strict=False)) * (1.0 / len(scores))
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


def chain_step(engine: str, n: int) -> Callable[[], None]:
    if engine == "hand-written":
        return lambda: handwritten.chain(0.5, n)
    if engine == "microgrid replay":
        import microgrid
        from microgrid import Value

        x = Value(0.5)
        recorded = microgrid.compile(lambda x: chain(x, n), [x])

        def replay_step():
            x.grad = 0.0
            recorded()

        return replay_step
    leaf = _value_type(engine)

    def step():
        chain(leaf(0.5), n).backward()

    return step


# -------------------------------------------------------- (c) wide and shallow
def tree_sum(terms: list):
    """t0 + t1 + ... added in pairs, then pairs of pairs: depth log2(N), not N."""
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[0::2], terms[1::2], strict=False)]
        if len(terms) % 2:
            paired.append(terms[-1])
        terms = paired
    return terms[0]


def wide_pairs(n: int, seed: int = 0) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(n)], [rng.uniform(-1, 1) for _ in range(n)]


def wide_step(engine: str, n: int) -> Callable[[], None]:
    """Leaves made once (like parameters); each step builds the products and the sum."""
    a, b = wide_pairs(n)
    if engine == "hand-written":
        return lambda: handwritten.wide(a, b)
    V = _value_type(engine)
    leaves = [V(x) for x in a + b]
    zero = None if engine == "pytorch" else 0.0

    def build(*_):
        return tree_sum([x * y for x, y in zip(leaves[:n], leaves[n:], strict=False)])

    if engine == "microgrid replay":
        import microgrid

        recorded = microgrid.compile(build, leaves)

        def replay_step():
            for leaf in leaves:
                leaf.grad = 0.0
            recorded()

        return replay_step

    def step():
        for leaf in leaves:
            leaf.grad = zero
        build().backward()

    return step


def _value_type(engine: str) -> Callable[[float], object]:
    """The engine's scalar leaf: its Value, or a 0-d float64 tensor that requires grad."""
    if engine == "micrograd":
        from micrograd.engine import Value

        return Value
    if engine == "pytorch":
        torch = _torch()
        return lambda x: torch.tensor(float(x), dtype=torch.float64, requires_grad=True)
    from microgrid import Value

    return Value


# ------------------------------------------------------- (d) memory per node
def graph_builder(workload: str, n: int, engine: str) -> Callable[[], object]:
    """A function that builds the workload's graph for `engine`, runs backward,
    and returns what keeps the graph alive (for tracemalloc)."""
    V = _value_type(engine)
    if workload == "chain":

        def build():
            root = chain(V(0.5), n)
            root.backward()
            return root

    else:
        a, b = wide_pairs(n)

        def build():
            leaves = [V(x) for x in a + b]
            root = tree_sum([x * y for x, y in zip(leaves[:n], leaves[n:], strict=False)])
            root.backward()
            return root, leaves

    return build
