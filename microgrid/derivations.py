"""The seeds' hand derivations of backpropagation, reproduced by the engine.

Each function builds the seed's network from `microgrid.nn` and
`microgrid.losses`, asks the engine for every derivative the seed writes
(`microgrid.symbolic.diff`: the engine's own reverse pass, read back as
formulas) and returns a `Derivation`: the chain-rule steps in the seed's
order, each factor with its value (dA/dZ = A(1 - A)) and their product, and
the final results.  Where a seed has a typo, the step says what the seed
wrote and what is correct.  ``Derivation.verify()`` re-checks every line
against the float engine at random points.

    >>> d = get("sigmoid-cross-entropy")
    >>> d.result("L", "Z")
    A - y
    >>> d.verify()
    True

On the command line: ``microgrid derive --list``, ``microgrid derive NAME
[--latex]`` and ``microgrid check NAME "claim" [--wrt LABEL]``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable

import sympy

from .engine import Value, grad, topological_order
from .expression import ExpressionError
from .labels import textbook, to_identifier
from .nn.losses import binary_cross_entropy, mse
from .nn import MLP, Layer, Neuron
from .symbolic import Verdict, check, diff, evaluate, find_node, latex, latex_name, symbol, to_sympy

__all__ = [
    "Equation",
    "Step",
    "Derivation",
    "VerificationError",
    "DERIVATIONS",
    "get",
    "sigmoid_cross_entropy",
    "single_neuron_squared_error",
    "layer_squared_error",
    "two_layer_network",
    "SEED_001_CLAIM",
    "SEED_001_CLAIM_SEED_NOTATION",
    "SEED_001_ALIASES",
]

Labels = str | list[list[str]]  # one label, or a matrix of labels (a gradient matrix)


class VerificationError(AssertionError):
    """A line of a derivation disagrees with the float engine."""


# ------------------------------------------------------------- the objects
@dataclass
class Equation:
    """d(of)/d(wrt) = lines[0] = lines[1] = ...: every line is the same derivative.

    `chain` lists the factors it is the product of, as the seed writes them
    (shown as ``dL/dZ = dL/dA dA/dZ``); `chain_text` replaces that display
    (text, LaTeX) where it is a sum.  For a gradient matrix, `wrt` is a matrix
    of labels, `wrt_name` its name, and the lines are sympy Matrices.
    """

    of: str
    wrt: Labels
    lines: list
    chain: list[tuple[str, str]] = field(default_factory=list)
    chain_text: tuple[str, str] | None = None
    note: str = ""
    wrt_name: str = ""
    held: tuple[str, ...] = ()  # a partial derivative: these other inputs of `of` held fixed

    @property
    def value(self):
        """The engine's result: the last line."""
        return self.lines[-1]

    def shown_lines(self) -> list:
        """The lines to display: a line that is the same formula as the one before
        it (or reads the same) is left out, so the seed's own order stands."""
        return [line for line, _ in self._shown()]

    def _shown(self) -> list[tuple]:
        """(line, written by hand?) for each shown line; the last of `lines` is the engine's."""
        last = len(self.lines) - 1
        shown: list[tuple] = []
        for i, line in enumerate(self.lines):
            if not shown or not _same(shown[-1][0], line):
                shown.append((line, i < last))
        return shown

    def lhs(self) -> str:
        fixed = f" ({', '.join(self.held)} fixed)" if self.held else ""
        return _d(self.of, self.wrt_name or self.wrt) + fixed

    def lhs_latex(self) -> str:
        if self.held:
            return rf"\left.{_d_latex(self.of, self.wrt)}\right|_{{{', '.join(map(latex_name, self.held))}}}"
        return _d_latex(self.of, self.wrt_name or self.wrt)

    def text(self, indent: str = "") -> list[str]:
        lhs = self.lhs()
        rows = []
        if self.chain_text:
            rows.append(self.chain_text[0])
        elif self.chain:
            rows.append(" * ".join(_d(o, w) for o, w in self.chain))
        # Lines written by hand keep their order; the engine's (last) line is printed canonically.
        rows.extend(_text(line, written) for line, written in self._shown())
        pad = " " * len(lhs)
        out = [f"{indent}{lhs} = {rows[0]}"] + [f"{indent}{pad} = {r}" for r in rows[1:]]
        if self.note:
            out.append(f"{indent}  (note: {self.note})")
        return out

    def latex_rows(self) -> list[str]:
        rows = []
        if self.chain_text:
            rows.append(self.chain_text[1])
        elif self.chain:
            rows.append(" ".join(_d_latex(o, w) for o, w in self.chain))
        # Written lines show every product sign: "1 \\cdot a", never "1 a".
        rows.extend(latex(line, order="none", mul_symbol="dot") if written else latex(line) for line, written in self._shown())
        out = [rf"{self.lhs_latex()} &= {rows[0]}"] + [rf"&= {r}" for r in rows[1:]]
        if self.note:
            out.append(rf"&\quad\text{{({_latex_text(self.note)})}}")
        return out


@dataclass
class Step:
    """One numbered step of a seed: the factors it needs, then their product."""

    title: str
    factors: list[Equation]
    result: Equation
    notes: list[str] = field(default_factory=list)


@dataclass
class Derivation:
    """A seed's derivation, computed by the engine; prints as the seed writes it."""

    name: str
    title: str
    source: str
    output: Value  # the network's output (loss) at one point: `check` uses it
    definitions: list[tuple[str, sympy.Expr]]
    steps: list[Step]
    results: list[Equation]
    main: tuple[str, str]  # (of, wrt): the default quantity of `microgrid check`
    build: Callable[[random.Random], Value]  # the same network at random values, for verify()
    notes: list[str] = field(default_factory=list)
    checks: list[tuple[str, Verdict]] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # the seed's own names, for `check`

    def check(self, claim, wrt: str | None = None) -> Verdict:
        """`microgrid.symbolic.check` of `claim` against d(main output)/d(wrt), the seed's names allowed.

        >>> get("sigmoid-cross-entropy").check("A - y").correct
        True
        """
        wrt = self.aliases.get(wrt, wrt) if wrt else self.main[1]
        return check(claim, self.output, wrt, aliases=self.aliases)

    def check_lines(self, claims, wrt: str | None = None, budget=None) -> list[Verdict]:
        """Each line of a hand derivation of d(main output)/d(wrt) checked in
        order (`microgrid.handcheck.check_lines`), the seed's names allowed."""
        from .handcheck import check_lines

        return check_lines(self.output, wrt or self.main[1], list(claims), self.aliases, budget)

    def equations(self) -> list[Equation]:
        """Every equation, in display order."""
        out = []
        for step in self.steps:
            out.extend(step.factors)
            out.append(step.result)
        return out + self.results

    def result(self, of: str, wrt: str):
        """The engine's result for d(of)/d(wrt) (labels or identifiers), e.g. ``result("L", "Z")``."""
        for eq in self.equations():
            if eq.of == of and isinstance(eq.wrt, str) and wrt in (eq.wrt, to_identifier(eq.wrt)):
                return eq.value
        raise KeyError(f"{self.name}: no result d{of}/d{wrt}")

    def __str__(self) -> str:
        out = [self.title, f"(after {self.source})", ""]
        out += [f"  {label} = {_text(expr)}" for label, expr in self.definitions]
        for i, step in enumerate(self.steps, 1):
            out += ["", f"{i}. {step.title}"]
            for eq in step.factors:
                out += eq.text("     ")
            out += step.result.text("   ")
            out += [f"   note: {n}" for n in step.notes]
        if self.results:
            out += ["", "Results:"]
            for eq in self.results:
                out += eq.text("  ")
        for title, verdict in self.checks:
            out += ["", title] + ["  " + line for line in str(verdict).splitlines()]
        if self.notes:
            out += [""] + [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<Derivation {self.name!r}: {self.title}>"

    def latex(self) -> str:
        """The whole derivation as one LaTeX ``aligned`` block."""
        rows = [rf"\text{{{_latex_text(self.title)}}} \\"]
        rows += [rf"{latex_name(label)} &= {latex(expr)} \\" for label, expr in self.definitions]
        for i, step in enumerate(self.steps, 1):
            rows.append(rf"&\text{{{i}. {_latex_text(step.title)}}} \\")
            for eq in step.factors + [step.result]:
                rows += [r + r" \\" for r in eq.latex_rows()]
            rows += [rf"&\quad\text{{note: {_latex_text(n)}}} \\" for n in step.notes]
        if self.results:
            rows.append(r"&\text{Results:} \\")
            for eq in self.results:
                rows += [r + r" \\" for r in eq.latex_rows()]
        for title, verdict in self.checks:
            rows.append(rf"&\text{{{_latex_text(title)}}} \\")
            rows.append(rf"&\text{{{verdict.status}: }} {latex(verdict.claim)} \\")
            rows.append(rf"&\text{{engine: }} {latex(verdict.expected)} \\")
        return "\\begin{aligned}\n" + "\n".join(rows) + "\n\\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"

    def verify(self, points: int = 3, seed: int = 0) -> bool:
        """Check every line of every equation against the float engine.

        The network is rebuilt at `points` random points; at each, every
        line is evaluated with the new values of its symbols and compared
        with ``grad(of, [wrt])``.  Returns True or raises `VerificationError`
        naming the equation, the line and the point.
        """
        rng = random.Random(seed)
        for _ in range(points):
            output = self.build(rng)
            nodes = {n.label: n for n in topological_order(output) if n.label}
            values = {symbol(label): n.data for label, n in nodes.items()}
            for eq in self.equations():
                _verify_equation(eq, nodes, values)
        return True


def _verify_equation(eq: Equation, nodes: dict[str, Value], values: dict) -> None:
    def true_value(wrt: str) -> float:
        return grad(nodes[eq.of], [nodes[wrt]])[0]

    for i, line in enumerate(eq.lines):
        if isinstance(eq.wrt, str):
            pairs = [(eq.wrt, line)]
        else:
            pairs = [(eq.wrt[r][c], line[r, c]) for r in range(len(eq.wrt)) for c in range(len(eq.wrt[0]))]
        for wrt, expr in pairs:
            true, got = true_value(wrt), evaluate(expr, values)
            if got is None or abs(got - true) > 1e-9 + 1e-7 * abs(true):
                point = ", ".join(f"{s} = {v:.6g}" for s, v in values.items())
                raise VerificationError(
                    f"{_d(eq.of, wrt)}: line {i + 1} ({_text(expr)}) gives {got}, the engine {true}, at {point}"
                )


# ----------------------------------------------------------------- display
def _d(of: str, wrt: Labels) -> str:
    return f"d{of}/d{wrt}"


def _d_latex(of: str, wrt: Labels) -> str:
    return rf"\frac{{\partial {latex_name(of)}}}{{\partial {latex_name(wrt)}}}"


def _same(a, b) -> bool:
    return a == b or _text(a) == _text(b)


def _text(expr, written: bool = False) -> str:
    if isinstance(expr, sympy.MatrixBase):
        rows = ("[" + ", ".join(_text(x, written) for x in expr.row(r)) + "]" for r in range(expr.rows))
        return "[" + ",\n     ".join(rows) + "]"
    return sympy.sstr(expr, order="none") if written else sympy.sstr(expr)


_LABEL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\^\([^()\s]*\))?(?:_[A-Za-z0-9]+(?:,[A-Za-z0-9]+)*)*")


def _latex_text(text: str) -> str:
    """Text for ``\\text{...}``: labels in it (``dC_0/dw^(L)``) become inline math."""

    def piece(match: re.Match) -> str:
        token = match.group(0)
        if "^" not in token and "_" not in token:
            return token
        name = latex_name(token)  # an identifier such as w3_0_0 has no math form: it stays text
        return plain(token) if "\\" in name else f"${name}$"

    def plain(part: str) -> str:
        return re.sub(r"([{}$%&#_])", r"\\\1", part.replace("\\", "/").replace("^", " "))

    out, last = [], 0
    for match in _LABEL_TOKEN.finditer(text):
        out += [plain(text[last : match.start()]), piece(match)]
        last = match.end()
    out.append(plain(text[last:]))
    return "".join(out)


def _eq(of: str, wrt: str, lines: list, **kw) -> Equation:
    return Equation(of, wrt, lines, **kw)


def _mul(*factors) -> sympy.Expr:
    """A product shown as written (sympy would reorder and merge it)."""
    return sympy.Mul(*factors, evaluate=False)


def _add(*terms) -> sympy.Expr:
    return sympy.Add(*terms, evaluate=False)


def _relabel(output: Value, mapping: Callable[[str], str]) -> None:
    """Rename every labelled node of `output`'s graph (the seed's own notation)."""
    for node in topological_order(output):
        if node.label:
            node.label = mapping(node.label)


def _definitions(output: Value) -> list[tuple[str, sympy.Expr]]:
    """`label = formula` for each labelled computed node, in forward order."""
    return [(n.label, to_sympy(n)) for n in topological_order(output) if n.label and n.op]


# ------------------------------------------------- seed 000: one neuron, BCE
def _build_sigmoid_cross_entropy(rng: random.Random) -> Value:
    neuron = Neuron(1, activation="sigmoid", rng=rng)
    neuron.b.data = rng.uniform(-1.0, 1.0)
    A = neuron([Value(rng.uniform(-2.0, 2.0), label="A_prev")])
    y = Value(rng.uniform(0.05, 0.95), label="y")
    L = binary_cross_entropy(A, y)
    L.label = "L"
    names = {neuron.w[0].label: "W", neuron.b.label: "b", A.parents[0].label: "Z", A.label: "A"}
    _relabel(L, lambda label: names.get(label, label))
    return L


def sigmoid_cross_entropy() -> Derivation:
    """Seed 000: a sigmoid output neuron with cross-entropy loss; dL/dZ = A - y.

    >>> print(sigmoid_cross_entropy().result("L", "W"))
    A_prev*(A - y)
    """
    L = _build_sigmoid_cross_entropy(random.Random(0))
    A, Z, W, b, y, A_prev = (symbol(s) for s in ("A", "Z", "W", "b", "y", "A_prev"))
    dL_dA = diff(L, "A")
    seed_dL_dA = _add(-y / A, (1 - y) / (1 - A))  # as the seed writes it
    dA_dZ = diff(find_node(L, "A"), "Z")
    dL_dZ = diff(L, "Z")
    step1 = Step("dL/dA: the loss against the output activation A", [], _eq("L", "A", [seed_dL_dA, dL_dA]))
    step2 = Step(
        "dL/dZ: the chain rule through the sigmoid A = sigmoid(Z)",
        [_eq("A", "Z", [dA_dZ], note="sigmoid's derivative reuses its output A")],
        _eq(
            "L",
            "Z",
            [
                _mul(seed_dL_dA, dA_dZ),
                _add(-y * (1 - A), (1 - y) * A),
                _add(-y, A * y, A, -A * y),
                dL_dZ,
            ],
            chain=[("L", "A"), ("A", "Z")],
        ),
        notes=[
            'the seed wrote "(-y/A + (1-y)/(1-A)) A - y" on two lines, where the factor (1 - A)A belongs; '
            "correct is (-y/A + (1-y)/(1-A)) A(1 - A)",
            'the seed wrote "-y - Ay + A - Ay" (a sign slip); correct is -y + Ay + A - Ay, which is A - y',
        ],
    )
    dZ_dW = diff(find_node(L, "Z"), "W")
    step3 = Step(
        "dL/dW: one more factor, Z = W A_prev + b",
        [_eq("Z", "W", [dZ_dW])],
        _eq("L", "W", [_mul(dL_dZ, dZ_dW), diff(L, "W")], chain=[("L", "A"), ("A", "Z"), ("Z", "W")]),
    )
    dZ_db = diff(find_node(L, "Z"), "b")
    step4 = Step(
        "dL/db: the bias",
        [_eq("Z", "b", [dZ_db])],
        _eq("L", "b", [_mul(dL_dZ, dZ_db), diff(L, "b")], chain=[("L", "A"), ("A", "Z"), ("Z", "b")]),
        notes=['the seed headed this step "with respect to the weights (b)": it is the bias b'],
    )
    dZ_dAprev = diff(find_node(L, "Z"), "A_prev")
    step5 = Step(
        "dL/dA_prev: what flows back to the previous layer",
        [_eq("Z", "A_prev", [dZ_dAprev])],
        _eq("L", "A_prev", [_mul(dL_dZ, dZ_dAprev), diff(L, "A_prev")], chain=[("L", "Z"), ("Z", "A_prev")]),
    )
    results = [_eq("L", wrt, [diff(L, wrt)]) for wrt in ("A", "Z", "W", "b", "A_prev")]
    return Derivation(
        name="sigmoid-cross-entropy",
        title="A sigmoid neuron with cross-entropy loss",
        source="seed 000, Timothy Lim's derivation",
        output=L,
        definitions=_definitions(L),
        steps=[step1, step2, step3, step4, step5],
        results=results,
        main=("L", "Z"),
        build=_build_sigmoid_cross_entropy,
    )


# ------------------------------- seed 002: one neuron per layer, squared error
def _build_single_neuron(rng: random.Random) -> Value:
    neuron = Neuron(1, activation="sigmoid", rng=rng)
    neuron.b.data = rng.uniform(-1.0, 1.0)
    a = neuron([rng.uniform(-2.0, 2.0)])
    C = mse(a, Value(rng.uniform(0.0, 1.0), label="y"))
    C.label = "C_0"
    # The seed's single-neuron notation has the layer and no indices: w^(L), a^(L-1).
    names = {"w^(1)_0,0": "w^(L)", "b^(1)_0": "b^(L)", "z^(1)_0": "z^(L)", "a^(1)_0": "a^(L)", "a^(0)_0": "a^(L-1)"}
    _relabel(C, lambda label: names.get(label, label))
    return C


def single_neuron_squared_error() -> Derivation:
    """Seed 002, first part: C0 = (a - y)^2, a = sigmoid(z), z = w a_prev + b.

    >>> print(single_neuron_squared_error().result("C_0", "w^(L)"))
    2*a^(L)*a^(L-1)*(1 - a^(L))*(a^(L) - y)
    """
    C = _build_single_neuron(random.Random(0))
    a, z = find_node(C, "a^(L)"), find_node(C, "z^(L)")
    s_a, s_y = symbol("a^(L)"), symbol("y")
    dC_da = diff(C, "a^(L)")
    da_dz = diff(a, "z^(L)")
    dz_dw, dz_db, dz_dprev = diff(z, "w^(L)"), diff(z, "b^(L)"), diff(z, "a^(L-1)")
    seed_dC_da = _mul(2, s_a - s_y)
    factors = [
        _eq("C_0", "a^(L)", [seed_dC_da, dC_da]),
        _eq("a^(L)", "z^(L)", [da_dz], note="sigma'(z^(L)), written with the activation: a(1 - a)"),
    ]
    chain = [("z^(L)", "w^(L)"), ("a^(L)", "z^(L)"), ("C_0", "a^(L)")]
    step_w = Step(
        "dC_0/dw^(L): the weight",
        factors + [_eq("z^(L)", "w^(L)", [dz_dw])],
        _eq("C_0", "w^(L)", [_mul(dz_dw, da_dz, seed_dC_da), diff(C, "w^(L)")], chain=chain),
    )
    step_b = Step(
        "dC_0/db^(L): the bias",
        [_eq("z^(L)", "b^(L)", [dz_db])],
        _eq("C_0", "b^(L)", [_mul(dz_db, da_dz, seed_dC_da), diff(C, "b^(L)")], chain=[("z^(L)", "b^(L)")] + chain[1:]),
        notes=["the seed labelled this line dC_0/dw^(L); its right side sigma'(z^(L)) 2(a^(L) - y) is dC_0/db^(L)"],
    )
    step_prev = Step(
        "dC_0/da^(L-1): the previous activation",
        [_eq("z^(L)", "a^(L-1)", [dz_dprev])],
        _eq(
            "C_0",
            "a^(L-1)",
            [_mul(dz_dprev, da_dz, seed_dC_da), diff(C, "a^(L-1)")],
            chain=[("z^(L)", "a^(L-1)")] + chain[1:],
        ),
    )
    results = [_eq("C_0", wrt, [diff(C, wrt)]) for wrt in ("w^(L)", "b^(L)", "a^(L-1)")]
    return Derivation(
        name="single-neuron-squared-error",
        title="One sigmoid neuron per layer with squared error",
        source="seed 002, 3Blue1Brown's backpropagation calculus, first part",
        output=C,
        definitions=_definitions(C),
        steps=[step_w, step_b, step_prev],
        results=results,
        main=("C_0", "w^(L)"),
        build=_build_single_neuron,
    )


# ----------------------------------- seed 002: a layer of neurons, the sum over j
LAYER_INPUTS, LAYER_OUTPUTS = 3, 2  # the seed's picture: a_0, a_1, a_2 into n_L neurons


def _to_layer_L(label: str) -> str:
    return label.replace("^(1)", "^(L)").replace("^(0)", "^(L-1)")


def _build_layer(rng: random.Random) -> Value:
    layer = Layer(LAYER_INPUTS, LAYER_OUTPUTS, activation="sigmoid", rng=rng)
    for n in layer.neurons:
        n.b.data = rng.uniform(-1.0, 1.0)
    outs = layer([rng.uniform(-2.0, 2.0) for _ in range(LAYER_INPUTS)])
    ys = [Value(rng.uniform(0.0, 1.0), label=f"y_{j}") for j in range(LAYER_OUTPUTS)]
    C = mse(outs, ys)
    C.label = "C_0"
    _relabel(C, _to_layer_L)  # built as layer 1; the seed calls it L
    return C


def layer_squared_error() -> Derivation:
    """Seed 002, second part: a layer of sigmoid neurons; dC0/da_k^(L-1) is a sum over j.

    >>> d = layer_squared_error()
    >>> d.verify()
    True
    """
    C = _build_layer(random.Random(0))
    tb = textbook
    steps, results = [], []
    for k in range(LAYER_INPUTS):
        prev = tb("a", "L-1", k)
        factors, terms, chain_text, chain_latex = [], [], [], []
        for j in range(LAYER_OUTPUTS):
            a_j, z_j = tb("a", "L", j), tb("z", "L", j)
            dz = diff(find_node(C, z_j), prev)
            da = diff(find_node(C, a_j), z_j)
            dc = diff(C, a_j)
            factors += [_eq(z_j, prev, [dz]), _eq(a_j, z_j, [da]), _eq("C_0", a_j, [dc])]
            terms.append(_mul(dz, da, dc))
            chain_text.append(" * ".join(_d(o, w) for o, w in ((z_j, prev), (a_j, z_j), ("C_0", a_j))))
            chain_latex.append(" ".join(_d_latex(o, w) for o, w in ((z_j, prev), (a_j, z_j), ("C_0", a_j))))
        chain = (
            "sum over j of dz_j/da_k * da_j/dz_j * dC_0/da_j = " + " + ".join(chain_text),
            r"\sum_{j=0}^{n_L-1} \frac{\partial z_j^{(L)}}{\partial a_k^{(L-1)}}"
            r"\frac{\partial a_j^{(L)}}{\partial z_j^{(L)}}\frac{\partial C_0}{\partial a_j^{(L)}} = " + " + ".join(chain_latex),
        )
        result = _eq("C_0", prev, [_add(*terms), diff(C, prev)], chain_text=chain)
        steps.append(Step(f"dC_0/da^(L-1)_{k}: a sum over the layer's neurons j", factors, result))
    for j in range(LAYER_OUTPUTS):
        for k in range(LAYER_INPUTS):
            results.append(_eq("C_0", tb("w", "L", j, k), [diff(C, tb("w", "L", j, k))]))
        results.append(_eq("C_0", tb("b", "L", j), [diff(C, tb("b", "L", j))]))
    return Derivation(
        name="layer-squared-error",
        title=f"A layer of {LAYER_OUTPUTS} sigmoid neurons on {LAYER_INPUTS} inputs with squared error",
        source="seed 002, 3Blue1Brown's backpropagation calculus, 'more complex network'",
        output=C,
        definitions=_definitions(C),
        steps=steps,
        results=results,
        main=("C_0", tb("a", "L-1", 0)),
        build=_build_layer,
        notes=["dC_0/dw^(L)_j,k = a^(L-1)_k sigma'(z^(L)_j) dC_0/da^(L)_j, the seed's last formula, is in the results"],
    )


# ----------------------------------------- seed 001: the 2-2-1 sigmoid network
#: Seed 001's proposed df/dW1 = W3 * sigma'(W2 h1) * sigma'(W1 x), for the entry of w^(1)_0,0.
SEED_001_CLAIM = "w3_0_0 * a2_0*(1 - a2_0) * a1_0*(1 - a1_0)"
#: The same, in the answer's own notation (see `SEED_001_ALIASES`).
SEED_001_CLAIM_SEED_NOTATION = "w3_11 * h2_1*(1 - h2_1) * h1_1*(1 - h1_1)"


def _seed001_aliases() -> dict[str, str]:
    """The answer's names: h^l_i is a^(l)_(i-1), x_j is a^(0)_(j-1), and w^l_(i,j),
    from unit i to unit j, counting from 1, is w^(l)_(j-1),(i-1); typed h2_1, x_1, w3_11 or w3_1_1."""
    aliases = {}
    for i in (1, 2):
        aliases[f"x_{i}"] = aliases[f"x{i}"] = textbook("a", 0, i - 1)
        for layer in (1, 2):
            aliases[f"h{layer}_{i}"] = textbook("a", layer, i - 1)
    for layer, sources, targets in ((1, 2, 2), (2, 2, 2), (3, 2, 1)):
        for i in range(1, sources + 1):
            for j in range(1, targets + 1):
                aliases[f"w{layer}_{i}{j}"] = aliases[f"w{layer}_{i}_{j}"] = textbook("w", layer, j - 1, i - 1)
    return aliases


SEED_001_ALIASES = _seed001_aliases()


def _build_two_layer(rng: random.Random) -> Value:
    model = MLP(2, [2, 2, 1], activation="sigmoid", output_activation="linear", rng=rng)
    for layer in model.layers:
        for n in layer.neurons:
            n.b.label = ""  # the seed's network has no biases: b stays the constant 0
    f = model([rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)])
    f.label = "f"
    return f


def two_layer_network() -> Derivation:
    """Seed 001: f = W3 h2, h2 = sigmoid(W2 h1), h1 = sigmoid(W1 x); df/dW1 entry by entry and as a matrix.

    >>> d = two_layer_network()
    >>> d.checks[0][1].correct
    False
    """
    f = _build_two_layer(random.Random(0))
    tb = textbook
    S = lambda *args: symbol(tb(*args))  # noqa: E731
    W1 = [[tb("w", 1, j, k) for k in range(2)] for j in range(2)]
    steps = []
    # Layer 3 and 2: what the answer derives first.
    factors = [_eq("f", tb("a", 2, i), [diff(f, tb("a", 2, i))]) for i in range(2)]
    factors += [_eq(tb("a", 2, i), tb("z", 2, i), [diff(find_node(f, tb("a", 2, i)), tb("z", 2, i))]) for i in range(2)]
    w2 = tb("w", 2, 0, 1)
    steps.append(
        Step(
            "df/dw^(2)_i,j = df/da^(2)_i * da^(2)_i/dz^(2)_i * dz^(2)_i/dw^(2)_i,j (one entry shown)",
            factors + [_eq(tb("z", 2, 0), w2, [diff(find_node(f, tb("z", 2, 0)), w2)])],
            _eq("f", w2, [diff(f, w2)], chain=[("f", tb("a", 2, 0)), (tb("a", 2, 0), tb("z", 2, 0)), (tb("z", 2, 0), w2)]),
            notes=["the answer wrote dh^2_i/dw^2 = sigma(W2 h1)(1 - sigma(W2 h1)), dropping the factor h^1_j (a^(1)_j here)"],
        )
    )
    # Layer 1: the sum over the two paths through layer 2.
    for j in range(2):
        for k in range(2):
            w = W1[j][k]
            a1, z1 = tb("a", 1, j), tb("z", 1, j)
            local = [
                _eq(tb("z", 2, i), a1, [diff(find_node(f, tb("z", 2, i)), a1)]) for i in range(2)
            ] + [_eq(a1, z1, [diff(find_node(f, a1), z1)]), _eq(z1, w, [diff(find_node(f, z1), w)])]
            terms = [
                _mul(S("w", 3, 0, i), S("a", 2, i) * (1 - S("a", 2, i)), S("w", 2, i, j), S("a", 1, j) * (1 - S("a", 1, j)), S("a", 0, k))
                for i in range(2)
            ]
            chain = (
                f"sum over i of df/da2_i * da2_i/dz2_i * dz2_i/da1_{j} * da1_{j}/dz1_{j} * dz1_{j}/d{w}",
                r"\sum_i \frac{\partial f}{\partial a^{(2)}_i}\frac{\partial a^{(2)}_i}{\partial z^{(2)}_i}"
                rf"\frac{{\partial z^{{(2)}}_i}}{{\partial a^{{(1)}}_{j}}}\frac{{\partial a^{{(1)}}_{j}}}{{\partial z^{{(1)}}_{j}}}"
                rf"\frac{{\partial z^{{(1)}}_{j}}}{{\partial {latex_name(w)}}}",
            )
            steps.append(Step(f"df/d{w}: two paths, through a^(2)_0 and a^(2)_1", local, _eq("f", w, [_add(*terms), diff(f, w)], chain_text=chain)))
    # The matrix form: df/dW1 = [(W2^T (W3^T o sigma'(z2))) o sigma'(z1)] x^T.
    W2 = sympy.Matrix(2, 2, lambda i, j: S("w", 2, i, j))
    W3 = sympy.Matrix(1, 2, lambda i, j: S("w", 3, 0, j))
    sp2 = sympy.Matrix(2, 1, lambda i, _: S("a", 2, i) * (1 - S("a", 2, i)))
    sp1 = sympy.Matrix(2, 1, lambda i, _: S("a", 1, i) * (1 - S("a", 1, i)))
    x = sympy.Matrix(2, 1, lambda i, _: S("a", 0, i))
    delta2 = W3.T.multiply_elementwise(sp2)
    delta1 = (W2.T * delta2).multiply_elementwise(sp1)
    matrix = _eq(
        "f",
        W1,
        [delta1 * x.T, sympy.Matrix(2, 2, lambda j, k: diff(f, W1[j][k]))],
        chain_text=("[(W2^T (W3^T o sigma'(z2))) o sigma'(z1)] x^T  (o: entrywise product)",
                    r"\left[\left(W_2^T \left(W_3^T \circ \sigma'(z_2)\right)\right) \circ \sigma'(z_1)\right] x^T"),
        wrt_name="W^(1)",
    )
    results = [matrix] + [_eq("f", p.label, [diff(f, p)]) for p in _weights(f) if not p.label.startswith("w^(1)")]
    seed_verdict = check(SEED_001_CLAIM, f, W1[0][0])
    return Derivation(
        name="two-layer-network",
        title="The 2-2-1 sigmoid network f = W3 h2, h2 = sigmoid(W2 h1), h1 = sigmoid(W1 x), no biases",
        source="seed 001, the Data Science Stack Exchange question and answer",
        output=f,
        definitions=_definitions(f),
        steps=steps,
        results=results,
        main=("f", W1[0][0]),
        build=_build_two_layer,
        notes=[
            "notation: the answer's h^l_i is a^(l)_(i-1), x_j is a^(0)_(j-1), and its w^l_(i,j) (from unit i to unit j) "
            "is w^(l)_(j-1),(i-1) here (into neuron j from neuron k, counting from 0); "
            "`microgrid check two-layer-network` accepts both (h2_1, x_1, w3_11 as well as a2_0, a0_0, w3_0_0)",
            "the biases are constant zeros (unlabelled), as the seed's network has none",
            "the answer's df/dW1 = W3 * sigma'(W2 h1) * sigma'(W1 x) is wrong three ways: it drops W2 "
            "(dh2/dh1 = diag(sigma'(z2)) W2), drops x (dh1/dW1 carries x_k), and is a vector where the gradient "
            "is a 2x2 outer product; its printed matrices also have w21 twice and w12 missing",
        ],
        checks=[(f"The answer's formula, entry {W1[0][0]}: {SEED_001_CLAIM}", seed_verdict)],
        aliases=SEED_001_ALIASES,
    )


def _weights(f: Value) -> list[Value]:
    return [n for n in topological_order(f) if n.op == "" and n.label.startswith("w^(")]


# -------------------------------------------------------------- registry
DERIVATIONS: dict[str, tuple[Callable[[], Derivation], str]] = {
    "sigmoid-cross-entropy": (sigmoid_cross_entropy, "seed 000: sigmoid neuron, cross-entropy; dL/dZ = A - y"),
    "single-neuron-squared-error": (single_neuron_squared_error, "seed 002: one neuron per layer, C0 = (a - y)^2"),
    "layer-squared-error": (layer_squared_error, "seed 002: a layer, dC0/da_k^(L-1) as a sum over j"),
    "two-layer-network": (two_layer_network, "seed 001: the 2-2-1 sigmoid network, df/dW1 (the answer is wrong)"),
}


def get(name: str) -> Derivation:
    """The derivation called `name` (see `DERIVATIONS`), computed now."""
    if name not in DERIVATIONS:
        raise KeyError(f"unknown derivation {name!r}; choose one of: {', '.join(DERIVATIONS)}")
    return DERIVATIONS[name][0]()
