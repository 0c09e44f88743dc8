"""The seeds' hand derivations as data, no sympy: each one's program and the lines its authors wrote.

>>> SEEDS["sigmoid-cross-entropy"].program
'Z = W*A_prev + b; A = sigmoid(Z); L = -y*log(A) - (1 - y)*log(1 - A)'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from ..names import textbook as tb
from .parsing import program

_WORDS = {r"\partial": "∂", r"\sigma": "σ", r"\sum": "Σ", r"\nabla": "∇", r"\circ": "∘", r"\cdot": "·", r"\log": "log"}
_WORDS |= {r"\quad": "  ", r"\left": "", r"\right": "", r"\,": " ", r"\begin{matrix}": "", r"\end{matrix}": ""}
_WORDS |= {"&": ", ", "\\\\": "; "}
_WORD = re.compile(r"\s*&\s*|\s*\\\\\s*|" + "|".join(re.escape(w) for w in sorted(_WORDS, key=len, reverse=True)))
_BRACED = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}|([\^_])\{([^{}]*)\}|\\(?:mathbf|textbf|text)\{([^{}]*)\}")


def plain(tex: str) -> str:
    """A line of LaTeX in plain text, as written: fractions with a slash, scripts with ^ and _.

    >>> plain(r"-\\frac{1-y}{1-A} \\frac{\\partial L}{\\partial a^{(L)}_{j}} e^{-Z} \\sigma'(z)")
    "-(1-y)/(1-A) ∂L/∂a^(L)_j e^(-Z) σ'(z)"
    """

    def braced(match: re.Match) -> str:
        top, bottom, script, inner, bold = match.groups()
        if bold is not None:
            return bold
        if script is not None:
            return script + (inner if re.fullmatch(r"[\w,]+|\(.*\)", inner) else f"({inner})")
        return "/".join(part if atomic(part) else f"({part})" for part in (top.strip(), bottom.strip()))

    def atomic(part: str) -> bool:  # y, ∂L, (1+e^(-Z))^2 need no parentheses; 1-y and (1-A)(A) do
        while (bare := re.sub(r"\([^()]*\)", "G", part)) != part:
            part = bare
        return not re.search(r"[\s+*]|.-|GG", part)

    text = re.sub(r"∂\s+", "∂", _WORD.sub(lambda match: _WORDS[match.group(0).strip()], tex))
    while (shorter := _BRACED.sub(braced, text)) != text:  # the innermost braces first: no recursion
        text = shorter
    return re.sub(r"\s+([)\]])", r"\1", re.sub(r"([(\[])\s+", r"\1", text))


@dataclass(frozen=True)
class Written:
    """A line a seed wrote for d(of)/d(wrt): `shown` as written (LaTeX), `claim` its value typed (None: no value)."""

    of: str
    wrt: str
    claim: str | None
    shown: str
    expect: str = "correct"
    note: str = ""

    @property
    def typed(self) -> str:
        return plain(self.shown)


@dataclass(frozen=True)
class Part:
    """A network of its own inside a seed (3Blue1Brown's average over examples, a general layer l)."""

    title: str
    program: str
    wrts: tuple[str, ...]
    written: tuple[Written, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatrixForm:
    """A seed's formula for a gradient matrix `name`, typed entry by entry; `chain` as text and LaTeX."""

    name: str
    wrts: tuple[tuple[str, ...], ...]
    entries: tuple[tuple[str, ...], ...]
    chain: tuple[str, str]


@dataclass(frozen=True)
class Seed:
    """One seed: its program, its steps in its order ((wrt, title)), its results, the lines it wrote."""

    name: str
    summary: str
    title: str
    source: str
    program: str
    steps: tuple[tuple[str, str], ...]
    results: tuple[str, ...]
    main: tuple[str, str]
    written: tuple[Written, ...] = ()
    step_notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    parts: tuple[Part, ...] = ()
    matrices: tuple[MatrixForm, ...] = ()
    checks: tuple[tuple[str, str, str], ...] = ()  # (title, claim, wrt): checked in full, the verdict shown


def seed_names(name: str) -> list[str]:
    """The labels seed `name`'s network knows, in the order its program names them."""
    return list(program(SEEDS[name].program))


def _d(*names: str) -> str:
    """The chain dn0/dn1 dn1/dn2 ... in LaTeX."""
    return " ".join(rf"\frac{{\partial {of}}}{{\partial {wrt}}}" for of, wrt in pairwise(names))


def layer_program(sizes: tuple[int, ...], names: tuple[str, ...] | str, loss: str = "C", bias: bool = True) -> str:
    """A fully connected sigmoid network as a program, `sizes` from the inputs on, squared error summed as `loss`.

    >>> layer_program((1, 1), "01")
    'z^(1)_0 = w^(1)_0,0*a^(0)_0 + b^(1)_0; a^(1)_0 = sigmoid(z^(1)_0); C = (a^(1)_0 - y_0)**2'
    """
    lines = []
    for layer in range(1, len(sizes)):
        this, before = names[layer], names[layer - 1]
        for j in range(sizes[layer]):
            terms = [f"{tb('w', this, j, k)}*{tb('a', before, k)}" for k in range(sizes[layer - 1])]
            z = tb("z", this, j)
            lines += [f"{z} = {' + '.join(terms + [tb('b', this, j)] * bias)}", f"{tb('a', this, j)} = sigmoid({z})"]
    squares = [f"({tb('a', names[-1], j)} - y_{j})**2" for j in range(sizes[-1])]
    return "; ".join(lines + [f"{loss} = {' + '.join(squares)}"] * bool(loss))


def _back(layer: int, j: int) -> str:
    """sigma'(z_j^(l)) dC/da_j^(l), typed."""
    return f"sigmoid({tb('z', layer, j)})*(1 - sigmoid({tb('z', layer, j)}))*dC/d{tb('a', layer, j)}"


_COLUMN = r"\left[\begin{matrix} %s_{1}%s \\ %s_{2}%s \end{matrix}\right]"
_SQUARE = r"\left[\begin{matrix} w_{11}^%d & w_{21}^%d \\ w_{21}^%d & w_{22}^%d\end{matrix}\right]"


def _entries(layer: int, of: str, before: str) -> list[Written]:
    """The answer's h^layer = σ(W h_before), W printed [[w11, w21], [w21, w22]], as lines for each entry (j, i)."""
    column = _COLUMN % (("h", "^1") * 2 if before == "h1_" else ("x", "") * 2)
    tex = rf"\mathbf{{h}}^{layer} = \sigma(" + _SQUARE % ((layer,) * 4) + f" {column})"
    lines = []
    for j, i, printed in ((1, 1, "11"), (1, 2, "21"), (2, 1, "21"), (2, 2, "22")):
        note = f"entry ({j}, {i}) is w^{layer}_{printed}, not w^{layer}_{i}{j}"
        slip = () if printed == f"{i}{j}" else ("incorrect", note)
        claim = f"{of}{j}*(1 - {of}{j})*w{layer}_{printed}"
        lines.append(Written(f"{of}{j}", f"{before}{i}", claim, tex + rf"\quad (\text{{entry {j}, {i}}})", *slip))
    return lines


# fmt: off
# ------------------------------------------------- seed 000: one neuron, BCE
_E = "(1 + exp(-Z))"
_SEED_000_WRITTEN = (
    Written("L", "A", None, r"\frac{\partial}{\partial A}(-y \log(A) - (1-y) \log(1-A))"),
    Written("L", "A", "-y/A - (-(1 - y)/(1 - A))", r"-\frac{y}{A} - \left(-\frac{1-y}{1-A}\right)"),
    Written("L", "A", "-y/A + (1 - y)/(1 - A)", r"-\frac{y}{A} + \frac{1-y}{1-A}"),
    Written("A", "Z", None, r"\frac{\partial}{\partial Z} \left(\frac{1}{1+e^{-Z}} \right)"),
    Written("A", "Z", None, r"\frac{\partial}{\partial A} ((1+e^{-Z})^{-1})",
            note="the seed writes d/dA where d/dZ is meant: A is differentiated, Z is the variable"),
    Written("A", "Z", f"-{_E}**(-2)*(-1*exp(-Z))", r"-(1+e^{-Z})^{-2} (-1 * e^{-Z})"),
    Written("A", "Z", f"exp(-Z)/{_E}**2", r"\frac{e^{-Z}}{(1+e^{-Z})^2}"),
    Written("A", "Z", f"(1 + exp(-Z) - 1)/{_E} * 1/{_E}", r"\frac{1+e^{-Z}-1}{(1+e^{-Z})} \frac{1}{(1+e^{-Z})}"),
    Written("A", "Z", f"(1 - 1/{_E}) * 1/{_E}", r"\left[1 - \frac{1}{(1+e^{-Z})} \right] \frac{1}{(1+e^{-Z})}"),
    Written("A", "Z", "(1 - A)*A", r"(1-A)A"),
    Written("L", "Z", "dL/dA * dA/dZ", _d("L", "A", "Z") + r" \quad (1)"),
    Written("L", "Z", "(-y/A + (1 - y)/(1 - A))*A - y", r"\left(-\frac{y}{A} + \frac{1-y}{1-A} \right) A - y",
            "incorrect", "the seed writes A - y where the factor (1 - A)A belongs"),
    Written("L", "Z", "(-y*(1 - A) + (1 - y)*A)/((1 - A)*A)*A - y", r"\frac{-y(1-A) + (1-y)A}{(1-A)(A)} A - y",
            "incorrect", "again A - y where (1 - A)A belongs"),
    Written("L", "Z", "-y*(1 - A) + (1 - y)*A", r"-y(1-A) + (1-y)A"),
    Written("L", "Z", "-y - A*y + A - A*y", r"-y - Ay + A - Ay", "incorrect", "a sign slip: -y(1 - A) is -y + Ay"),
    Written("L", "Z", "A - y", r"A - y"),
    Written("Z", "W", None, r"\frac{\partial}{\partial W}(Wx + b)"),
    Written("Z", "W", "x", r"x", note="x is A_prev, the previous activation, as the seed says"),
    Written("Z", "W", "A_prev", r"A_{previous}"),
    Written("L", "W", "dL/dA * dA/dZ * dZ/dW", _d("L", "A", "Z", "W") + r" \quad (2)"),
    Written("L", "W", "(A - y)*A_prev", r"(A - y) A_{previous}"),
    Written("Z", "b", None, r"\frac{\partial}{\partial b}(Wx + b)"),
    Written("Z", "b", "1", r"1"),
    Written("L", "b", "dL/dA * dA/dZ * dZ/db", _d("L", "A", "Z", "b") + r" \quad (3)"),
    Written("L", "b", "dL/dA * dA/dZ", _d("L", "A", "Z")),
    Written("L", "b", "dL/dZ", _d("L", "Z")),
    Written("L", "b", "A - y", r"A - y"),
    Written("L", "A_prev", "dL/dZ * dZ/dA_prev", _d("L", "Z", "A_{previous}")),
    Written("L", "A_prev", None, _d("L", "Z") + r" * \frac{\partial}{\partial A_{previous}}(W A_{previous} + b)"),
    Written("L", "A_prev", "dL/dZ * W", _d("L", "Z") + r" * W"),
)
SEED_000 = Seed(
    name="sigmoid-cross-entropy", title="A sigmoid neuron with cross-entropy loss",
    summary="seed 000: sigmoid neuron, cross-entropy; dL/dZ = A - y", source="seed 000, Timothy Lim's derivation",
    program="Z = W*A_prev + b; A = sigmoid(Z); L = -y*log(A) - (1 - y)*log(1 - A)",
    steps=(("A", "dL/dA: the loss against the output activation A"),
           ("Z", "dL/dZ: the chain rule through the sigmoid A = sigmoid(Z)"),
           ("W", "dL/dW: one more factor, Z = W A_prev + b"), ("b", "dL/db: the bias"),
           ("A_prev", "dL/dA_prev: what flows back to the previous layer")),
    results=("A", "Z", "W", "b", "A_prev"), main=("L", "Z"),
    written=_SEED_000_WRITTEN, aliases={"x": "A_prev", "A_previous": "A_prev"},
    step_notes={"Z": ('the seed ends two lines in "A - y" where the factor (1 - A)A belongs, and writes "-y - Ay" '
                      "for -y + Ay (a sign slip)",),
                "b": ('the seed headed this step "with respect to the weights (b)": it is the bias b',)},
)

# ------------------------------- seed 002: one neuron per layer, squared error
_SIGMA_PRIME = "sigmoid(z^(L))*(1 - sigmoid(z^(L)))"
_CHAIN_002 = _d("z^{(L)}", "w^{(L)}") + " " + _d("a^{(L)}", "z^{(L)}") + " " + _d("C_0", "a^{(L)}")
_EXAMPLES = 3  # the training examples averaged over
_AVERAGE = f"C = ({' + '.join(f'C_{k}' for k in range(_EXAMPLES))})/{_EXAMPLES}"
_AVERAGE_PART = Part(
    title=f"The average over {_EXAMPLES} training examples: {_AVERAGE}", wrts=("w^(L)",),
    program="; ".join(f"z^(L)_{k} = w^(L)*a^(L-1)_{k} + b^(L); a^(L)_{k} = sigmoid(z^(L)_{k}); "
                      f"C_{k} = (a^(L)_{k} - y_{k})**2" for k in range(_EXAMPLES)) + f"; {_AVERAGE}",
    written=(Written("C", "w^(L)", "(" + " + ".join(f"dC_{k}/dw^(L)" for k in range(_EXAMPLES)) + f")/{_EXAMPLES}",
                     r"\frac{1}{n} \sum_{k=0}^{n-1} \frac{\partial C_k}{\partial w^{(L)}}"),),
    notes=("the subscript k numbers the training example: each has its own a^(L-1)_k and y_k, so its own "
           "z^(L)_k and a^(L)_k; w^(L) and b^(L) are shared",),
)
SEED_002_SINGLE = Seed(
    name="single-neuron-squared-error", title="One sigmoid neuron per layer with squared error",
    summary="seed 002: one neuron per layer, C_0 = (a^(L) - y)^2, and the average over examples",
    source="seed 002, 3Blue1Brown's backpropagation calculus, first part",
    program="z^(L) = w^(L)*a^(L-1) + b^(L); a^(L) = sigmoid(z^(L)); C_0 = (a^(L) - y)**2",
    steps=(("w^(L)", "dC_0/dw^(L): the weight"), ("b^(L)", "dC_0/db^(L): the bias"),
           ("a^(L-1)", "dC_0/da^(L-1): the previous activation")),
    results=("w^(L)", "b^(L)", "a^(L-1)"), main=("C_0", "w^(L)"), parts=(_AVERAGE_PART,),
    written=(
        Written("C_0", "a^(L)", "2*(a^(L) - y)", r"2(a^{(L)} - y)"),
        Written("a^(L)", "z^(L)", _SIGMA_PRIME, r"\sigma'(z^{(L)})",
                note="the engine writes sigma'(z) with the activation: a(1 - a)"),
        Written("z^(L)", "w^(L)", "a^(L-1)", r"a^{(L-1)}"),
        Written("C_0", "w^(L)", "dz^(L)/dw^(L) * da^(L)/dz^(L) * dC_0/da^(L)", _CHAIN_002),
        Written("C_0", "w^(L)", f"a^(L-1)*{_SIGMA_PRIME}*2*(a^(L) - y)", r"a^{(L-1)} \sigma'(z^{(L)}) 2(a^{(L)} - y)"),
        Written("C_0", "w^(L)", f"{_SIGMA_PRIME}*2*(a^(L) - y)", r"\sigma'(z^{(L)}) 2(a^{(L)} - y)",
                "incorrect", "the seed's bias line, labelled dC_0/dw^(L): it is dC_0/db^(L)"),
        Written("C_0", "b^(L)", f"{_SIGMA_PRIME}*2*(a^(L) - y)", r"\sigma'(z^{(L)}) 2(a^{(L)} - y)",
                note="the seed's bias line, read as the derivative it is"),
    ),
    step_notes={"b^(L)": ("the seed labelled this line dC_0/dw^(L); its right side σ'(z^(L)) 2(a^(L) - y) is "
                          "dC_0/db^(L)",)},
)

# ----------------------------------- seed 002: a layer of neurons, the sum over j
LAYER_INPUTS, LAYER_OUTPUTS = 3, 2  # the seed's picture: a_0, a_1, a_2 into n_L neurons
_BP2 = [" + ".join(f"{tb('w', 2, j, k)}*{_back(2, j)}" for j in range(2)) for k in range(2)]  # the sum over j, by k
_SUM_LATEX = (_d("C_0", "a_k^{(L-1)}") + r" = \sum_{j=0}^{n_L-1} " + _d("z_j^{(L)}", "a_k^{(L-1)}") + " "
              + _d("a_j^{(L)}", "z_j^{(L)}") + " " + _d("C_0", "a_j^{(L)}"))
_BP2_LATEX = (_d("C", "a_j^{(l)}") + r" = \sum_{j=0}^{n_{l+1}-1} w_{jk}^{(l+1)} \sigma'(z_j^{(l+1)}) "
              + _d("C", "a_j^{(l+1)}"))
_BP4_LATEX = _d("C", "w_{jk}^{(l)}") + r" = a_k^{(l-1)} \sigma'(z_j^{(l)}) " + _d("C", "a_j^{(l)}")
_CLASH = "the seed writes this sum for dC/da_j^(l), but it runs over j with w_jk: it is dC/da_k^(l), an index clash"
_PREV = [tb("a", "L-1", k) for k in range(LAYER_INPUTS)]
_LAYER = [(tb("z", "L", j), tb("a", "L", j)) for j in range(LAYER_OUTPUTS)]
_SUM = [" + ".join(f"d{z}/d{a_k} * d{a}/d{z} * dC_0/d{a}" for z, a in _LAYER) for a_k in _PREV]  # the sum over j, by k
_INDICES = [(layer, j, k) for layer in (1, 2) for j in range(2) for k in range(2)]  # a 2-2-2 network
_RECURSION = Part(
    title="The recursion for a general layer l, checked for every index of a 2-2-2 network (l = 1, L = 2)",
    program=layer_program((2, 2, 2), "012"), wrts=tuple(tb("w", *index) for index in _INDICES),
    written=(
        *(Written("C", tb("w", layer, j, k), f"{tb('a', layer - 1, k)}*{_back(layer, j)}",
                  _BP4_LATEX + rf"\quad (l = {layer}, j = {j}, k = {k})") for layer, j, k in _INDICES),
        *(Written("C", tb("a", 1, k), _BP2[k], _BP2_LATEX + rf"\quad (l = 1, k = {k})",
                  note="read as dC/da_k^(l), the derivative it is") for k in range(2)),
        *(Written("C", tb("a", 1, 1 - k), _BP2[k], _BP2_LATEX + rf"\quad (l = 1, j = {1 - k}, k = {k})",
                  "incorrect", _CLASH) for k in range(2)),
        *(Written("C", tb("a", 2, j), f"2*({tb('a', 2, j)} - y_{j})", rf"2(a_j^{{(L)}} - y_j)\quad (j = {j})")
          for j in range(2)),
    ),
    notes=(f"{_CLASH}; where j = k the two readings agree",),
)
SEED_002_LAYER = Seed(
    name="layer-squared-error", main=("C_0", _PREV[0]), parts=(_RECURSION,),
    summary="seed 002: a layer, dC_0/da_k^(L-1) as a sum over j, and the recursion for a general layer l",
    title=f"A layer of {LAYER_OUTPUTS} sigmoid neurons on {LAYER_INPUTS} inputs with squared error",
    source="seed 002, 3Blue1Brown's backpropagation calculus, 'more complex network'",
    program=layer_program((LAYER_INPUTS, LAYER_OUTPUTS), ("L-1", "L"), "C_0"),
    steps=tuple((a, f"dC_0/d{a}: a sum over the layer's neurons j") for a in _PREV),
    results=(*_PREV, *(w for j in range(2) for w in [*(tb("w", "L", j, k) for k in range(3)), tb("b", "L", j)])),
    written=tuple(Written("C_0", a, _SUM[k], _SUM_LATEX + rf"\quad (k = {k})") for k, a in enumerate(_PREV)),
    notes=("dC_0/dw^(L)_j,k = a^(L-1)_k σ'(z^(L)_j) dC_0/da^(L)_j, the seed's last formula, is in the results",),
)

# ----------------------------------------- seed 001: the 2-2-1 sigmoid network
#: Seed 001's proposed df/dW1 = W3 * sigma'(W2 h1) * sigma'(W1 x), for the entry of w^(1)_0,0.
SEED_001_CLAIM = "w3_0_0 * a2_0*(1 - a2_0) * a1_0*(1 - a1_0)"
#: The same, in the answer's own notation (see `SEED_001_ALIASES`).
SEED_001_CLAIM_SEED_NOTATION = "w3_11 * h2_1*(1 - h2_1) * h1_1*(1 - h1_1)"
#: The answer's names: h2_1 is a^(2)_0, x_1 is a^(0)_0, w3_11 (from unit 1 to unit 1) is w^(3)_0,0.
SEED_001_ALIASES = {f"h{n}_{i}": tb("a", n, i - 1) for n in (1, 2) for i in (1, 2)}
SEED_001_ALIASES |= {f"x{sep}{i}": tb("a", 0, i - 1) for i in (1, 2) for sep in ("", "_")}
SEED_001_ALIASES |= {f"w{n}_{i}{j}": tb("w", n, j - 1, i - 1) for n in (1, 2) for i in (1, 2) for j in (1, 2)}
SEED_001_ALIASES |= {f"w3_{i}1": tb("w", 3, 0, i - 1) for i in (1, 2)}
#: df/dh^2_i as the answer writes it, and its f = W^3 h^2 as printed.
_DF_DH2 = (_d("f", "h^2_i") + r" = w_{i, 1}^3",
           r"f = \left[\begin{matrix} w_{11}^3 & w_{21}^3 \end{matrix}\right] " + _COLUMN % ("h", "^2", "h", "^2")
           + r" = \mathbf{W}^3\mathbf{h}^2")
_W1 = [tb("w", 1, j, k) for j in range(2) for k in range(2)]
#: Row j of [(W2^T (W3^T o sigma'(z2))) o sigma'(z1)] x^T before its factors sigma'(z1_j) x_k, typed.
_PATHS = ["(" + " + ".join(f"w2_{i}_{j}*w3_0_{i}*a2_{i}*(1 - a2_{i})" for i in range(2)) + ")" for j in range(2)]
_SEED_001_WRITTEN = (
    *(Written("f", f"h2_{i}", f"w3_{i}1", shown + rf"\quad (i = {i})") for shown in _DF_DH2 for i in (1, 2)),
    *(Written("f", f"w2_{i}{j}", f"df/dh2_{i} * dh2_{i}/dw2_{i}{j}",
              f"{_d('f', 'w^2_{i,j}')} = {_d('f', 'h^2_i', 'w^2_1')}" + rf"\quad (i = {i}, j = {j})",
              *(() if i == j else ("incorrect", f"w^2_{i}{j} feeds h^2_{j}, not h^2_{i}, in the answer's matrices")))
      for i in (1, 2) for j in (1, 2)),
    Written(tb("a", 2, 0), tb("w", 2, 0, 1), "h2_1*(1 - h2_1)",
            r"\frac{\partial h^2_i}{\partial w^2_1} = \sigma(W^2h^1) (1 - \sigma(W^2h^1))",
            "incorrect", "it drops the factor h^1_j (a^(1)_1 here) that dz/dw carries"),
    Written("f", tb("w", 1, 0, 0), "df/dh2_1 * dh2_1/dh1_1 * dh1_1/dw1_11", _d("f", "h^2_i", "h^1_i", "w^1_{i,j}"),
            "incorrect", "one path only: the sum over both neurons of layer 2 is missing"),
    Written("f", tb("w", 1, 0, 0), SEED_001_CLAIM_SEED_NOTATION,
            r"\mathbf{W}^3 \sigma(\mathbf{W}^2\mathbf{h}^1)(1-\sigma(\mathbf{W}^2\mathbf{h}^1)) "
            r"\sigma(\mathbf{W}^1\mathbf{X})(1-\sigma(\mathbf{W}^1\mathbf{X}))",
            "incorrect", "the answer's df/dW1, entry w^(1)_0,0: it drops W2 and x"),
    *_entries(2, "h2_", "h1_"), *_entries(1, "h1_", "x_"),
)
_L_PART = Part(
    title="The answer's first step: a loss L after f (it does not say which; squared error here)", wrts=(_W1[0],),
    program=layer_program((2, 2, 2), "012", "", bias=False)
    + f"; f = {tb('w', 3, 0, 0)}*{tb('a', 2, 0)} + {tb('w', 3, 0, 1)}*{tb('a', 2, 1)}; L = (f - y)**2",
    written=(
        Written("L", _W1[0], f"dL/df * df/d{_W1[0]}", _d("L", "f", "w_1"), note="w_1 is w^(1)_0,0"),
        Written("L", _W1[0], f"dL/df * df/da^(1)_0 * da^(1)_0/d{_W1[0]}", _d("L", "f", r"\sigma", "w_1"),
                note="σ read as the sigmoid w_1 feeds, h^1_1 = a^(1)_0"),
    ),
)
SEED_001 = Seed(
    name="two-layer-network", main=("f", _W1[0]),
    summary="seed 001: the 2-2-1 sigmoid network, df/dW1 (the answer is wrong)",
    title="The 2-2-1 sigmoid network f = W3 h2, h2 = sigmoid(W2 h1), h1 = sigmoid(W1 x), no biases",
    source="seed 001, the Data Science Stack Exchange question and answer",
    program=_L_PART.program.rsplit("; L =", 1)[0],
    steps=((tb("w", 2, 0, 1), "df/dw^(2)_i,j = df/da^(2)_i * da^(2)_i/dz^(2)_i * dz^(2)_i/dw^(2)_i,j (one entry)"),
           *((w, f"df/d{w}: two paths, through a^(2)_0 and a^(2)_1") for w in _W1)),
    results=tuple(tb("w", layer, j, k) for layer, rows in ((2, 2), (3, 1)) for j in range(rows) for k in range(2)),
    written=_SEED_001_WRITTEN, aliases=SEED_001_ALIASES, parts=(_L_PART,),
    step_notes={tb("w", 2, 0, 1): ("the answer wrote ∂h^2_i/∂w^2_1 = σ(W2 h1)(1 - σ(W2 h1)), dropping the factor "
                                   "h^1_j (a^(1)_j here)",)},
    notes=(
        "notation: the answer's h^l_i is a^(l)_(i-1), x_j is a^(0)_(j-1), and its w^l_(i,j) (from unit i to unit j) "
        "is w^(l)_(j-1),(i-1) here (into neuron j from neuron k, from 0); `microgrid check two-layer-network` "
        "accepts both (h2_1, x_1, w3_11 as well as a2_0, a0_0, w3_0_0); no biases, as the answer has none",
        "the answer's matrices, entry by entry: entry (j, i) of h = σ(W h_before) gives dh_j/dh_before_i = "
        "σ'(z_j) W[j, i]; they have w21 twice and w12 missing",
        "the answer's df/dW1 = W3 * σ'(W2 h1) * σ'(W1 x) is wrong three ways: it drops W2 (dh2/dh1 = diag(σ'(z2)) "
        "W2), drops x (dh1/dW1 carries x_k), and is a vector where the gradient is a 2x2 outer product",
    ),
    matrices=(MatrixForm(
        "W^(1)", (tuple(_W1[:2]), tuple(_W1[2:])),
        tuple(tuple(_PATHS[j] + f"*a1_{j}*(1 - a1_{j})*a0_{k}" for k in range(2)) for j in range(2)),
        ("[(W2^T (W3^T o σ'(z2))) o σ'(z1)] x^T  (o: entrywise product)",
         r"\left[\left(W_2^T \left(W_3^T \circ \sigma'(z_2)\right)\right) \circ \sigma'(z_1)\right] x^T"),
    ),),
    checks=(("The answer's formula for the entry w^(1)_0,0, checked", SEED_001_CLAIM, _W1[0]),),
)
# fmt: on

SEEDS: dict[str, Seed] = {s.name: s for s in (SEED_000, SEED_002_SINGLE, SEED_002_LAYER, SEED_001)}
#: {name: one line about it}: the built-in derivations.
DERIVATIONS: dict[str, str] = {name: seed.summary for name, seed in SEEDS.items()}
