"""The limit: the benchmarks' workloads written by hand in plain Python.

No graph objects: the forward pass keeps what the backward pass needs in
lists of floats, and the backward pass is the chain rule written out for
this one network.  It is what a scalar engine could at best approach, so the
benchmark reports every engine's time per node against it as well.

    >>> layers = init_mlp([2, 16, 16, 1], seed=0)
    >>> loss, grads = mlp_loss_and_grads(layers, [[0.5, -0.2]], [1], alpha=1e-4)
    >>> len(grads) == len(layers)
    True
"""

from __future__ import annotations

import itertools
import random

Layer = tuple[list[list[float]], list[float]]  # (weights, one row per neuron; biases)


def init_mlp(sizes: list[int], seed: int = 0) -> list[Layer]:
    """Weights uniform in [-1, 1] and zero biases, like micrograd's MLP."""
    rng = random.Random(seed)
    return [
        ([[rng.uniform(-1.0, 1.0) for _ in range(nin)] for _ in range(nout)], [0.0] * nout)
        for nin, nout in itertools.pairwise(sizes)
    ]


def mlp_loss_and_grads(layers: list[Layer], X, Y, alpha: float) -> tuple[float, list[Layer]]:
    """Hinge loss (mean of relu(1 - y s)) plus alpha * sum p^2, and its gradient.

    Hidden layers use relu, the last one is linear (micrograd's MLP).
    """
    grads = [([[0.0] * len(row) for row in W], [0.0] * len(b)) for W, b in layers]
    last = len(layers) - 1
    scale = 1.0 / len(X)
    data_loss = 0.0
    for x, y in zip(X, Y, strict=False):
        # forward: keep each layer's input and pre-activation
        inputs, pre = [], []
        a = x
        for i, (W, b) in enumerate(layers):
            z = []
            for row, bj in zip(W, b, strict=False):
                s = bj
                for w, ak in zip(row, a, strict=False):
                    s += w * ak
                z.append(s)
            inputs.append(a)
            pre.append(z)
            a = z if i == last else [zj if zj > 0.0 else 0.0 for zj in z]
        margin = 1.0 - y * a[0]
        if margin > 0.0:
            data_loss += margin
            upstream = [-y * scale]  # d loss / d score
        else:
            upstream = [0.0]
        # backward: layer by layer, from the output
        for i in range(last, -1, -1):
            W, _ = layers[i]
            gW, gb = grads[i]
            z, a = pre[i], inputs[i]
            if i != last:
                upstream = [u if zj > 0.0 else 0.0 for u, zj in zip(upstream, z, strict=False)]
            below = [0.0] * len(a)
            for j, u in enumerate(upstream):
                if u == 0.0:
                    continue
                row, grow = W[j], gW[j]
                gb[j] += u
                for k, ak in enumerate(a):
                    grow[k] += u * ak
                    below[k] += u * row[k]
            upstream = below
    reg = 0.0
    for (W, b), (gW, gb) in zip(layers, grads, strict=False):
        for row, grow in zip(W, gW, strict=False):
            for k, w in enumerate(row):
                reg += w * w
                grow[k] += 2.0 * alpha * w
        for j, bj in enumerate(b):
            reg += bj * bj
            gb[j] += 2.0 * alpha * bj
    return data_loss * scale + alpha * reg, grads


def sgd_update(layers: list[Layer], grads: list[Layer], lr: float) -> None:
    for (W, b), (gW, gb) in zip(layers, grads, strict=False):
        for row, grow in zip(W, gW, strict=False):
            for k, g in enumerate(grow):
                row[k] -= lr * g
        for j, g in enumerate(gb):
            b[j] -= lr * g


def chain(
    x: float, n: int, scale: float = 1.0001, shift: float = 0.0001
) -> tuple[float, float, list[float], list[float]]:
    """x -> x * scale + shift, n times, forward then reverse, as the engine does it.

    The forward pass keeps each step's input; the reverse pass walks the steps
    backwards and gives what the engine's backward gives: d(result)/dx and
    d(result)/d of each step's two constants (which the engine's graph holds
    as leaves, 1.0001 and 0.0001, made anew at every step).
    """
    inputs = []
    for _ in range(n):
        inputs.append(x)
        x = x * scale + shift
    g = 1.0  # d(result)/d(current step's result)
    d_scale, d_shift = [0.0] * n, [0.0] * n
    for i in range(n - 1, -1, -1):
        d_shift[i] = g  # d(p + shift)/d(shift) = 1
        d_scale[i] = g * inputs[i]  # d(x * scale)/d(scale) = x
        g = g * scale  # d(x * scale)/dx = scale
    return x, g, d_scale, d_shift


def wide(a: list[float], b: list[float]) -> tuple[float, list[float], list[float]]:
    """sum of a[i] * b[i], forward then reverse, as the engine does it.

    The forward pass makes the products, then adds them in pairs, then pairs
    of pairs (the benchmark's balanced tree), keeping every level; the
    reverse pass sends each sum's gradient down to both of its terms, level
    by level, then through the products: the result and its gradients in a
    and in b.
    """
    levels = [[x * y for x, y in zip(a, b, strict=False)]]
    while len(levels[-1]) > 1:
        terms = levels[-1]
        paired = [s + t for s, t in zip(terms[0::2], terms[1::2], strict=False)]
        if len(terms) % 2:
            paired.append(terms[-1])  # an odd one out goes up a level unchanged
        levels.append(paired)
    grads = [1.0]  # d(result)/d(each entry of the current level), from the top
    for terms in reversed(levels[:-1]):
        below = []
        for g in grads[: len(terms) // 2]:
            below += (g, g)  # d(s + t)/ds = d(s + t)/dt = 1
        if len(terms) % 2:
            below.append(grads[-1])
        grads = below
    return (
        levels[-1][0],
        [g * y for g, y in zip(grads, b, strict=False)],
        [g * x for g, x in zip(grads, a, strict=False)],
    )
