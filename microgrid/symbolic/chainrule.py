"""The chain-rule derivation of any graph, computed from the graph, never typed in.

`derive(output, wrt)` follows the paths from `wrt` to `output` through the
labelled nodes; unlabelled nodes fold into the local factor of the labelled
node they feed.  Going back from the output, one step per labelled node M:

* the local derivative dN/dM for each labelled node N that reads M: the
  engine's own rule as a formula (sigmoid's is a(1 - a), made of its output);
* the chain: dC/dM = sum over those N of dC/dN * dN/dM (several N are
  several paths: 3Blue1Brown's sum over j);
* the product, with each dC/dN written out when it is short, else by its
  name (``delta^(l)_j`` for a weighted sum ``z^(l)_j``, ``dC/dN`` otherwise);
* the simplified result, in the chain's order when that reads as well.

Naming keeps every line short: a first-layer weight of a deep MLP reads
``a^(0)_k * a(1 - a) * (w delta + ...)``, growing with depth linearly, not
exponentially.  `.verify()` re-checks every line against the float engine.

    >>> from microgrid.symbolic.parsing import program
    >>> d = derive(program("z = w*x + b; a = tanh(z); C = (a - y)**2")["C"], "w")
    >>> print(str(d).splitlines()[-1].strip())
    = 2*(a - y)*(1 - a**2)*x
"""

from __future__ import annotations

import random
from typing import Callable

from .conversion import sympy

from .worker import Budget
from .derivations import Derivation, Equation, Step
from ..engine import Value, topological_order
from ..graphs import copy_graph, fold, rebuild
from ..names import derivative_name, labelled_nodes, parse_textbook
from .checker import named_number_notes
from .conversion import lookup, to_sympy
from .conversion import diff
from .conversion import symbol
from .simplify import simplify_within, tidy

__all__ = ["derive", "cut", "labelled_sources", "ordered_product", "ordered_sum", "readable", "local_derivative", "nearby_builder", "DEFAULT_BUDGET", "as_budget"]

#: An upstream derivative of at most this many operations is written out in
#: the next step; a longer one keeps its name there.
WRITE_OUT_OPS = 24
#: The final result is also shown with every name written out, up to this size.
FINAL_WRITE_OUT_OPS = 80
#: Seconds of algebra a derivation may spend; past it the steps are only tidied.
DEFAULT_BUDGET = 2.0
#: The most of what is left that one formula's algebra may take.
SHARE = 0.5


def as_budget(budget: Budget | float | None) -> Budget:
    """`budget` as a `Budget`: seconds become one (0 or less: already spent); None, the default."""
    if isinstance(budget, Budget):
        return budget
    seconds = DEFAULT_BUDGET if budget is None else float(budget)
    return Budget(seconds) if seconds > 0 else Budget(1e-9)


# ------------------------------------------------------------ the graph
def labelled_sources(output: Value) -> dict[Value, list[Value]]:
    """For each labelled computed node (and `output`): the labelled nodes it
    reads, through unlabelled ones, in order."""
    reads: dict[Value, dict[Value, None]] = {}
    sources = {}
    for node in topological_order(output):
        if node._op is None:
            continue
        found: dict[Value, None] = {}
        for parent in node.parents:
            found.update({parent: None} if parent.label else reads.get(parent, {}))
        reads[node] = found
        if node.label or node is output:
            sources[node] = list(found)
    return sources


def cut(node: Value, sources: list[Value]) -> tuple[Value, dict[Value, Value]]:
    """A copy of `node`'s unlabelled interior over fresh leaves, one per
    labelled source: (the copy, {source: its leaf}).  Iterative, and stopping
    at labelled nodes: each local factor is small."""
    leaves = {s: Value(s.data, label=s.label) for s in sources}
    # An unlabelled constant is kept as it is; every other node is rebuilt over the copies.
    copy = fold(node, lambda n, operands: n if n._op is None else rebuild(n, tuple(operands)), dict(leaves))
    copy.label = node.label
    return copy, leaves


def local_derivative(node: Value, source: Value, sources: list[Value]) -> sympy.Expr:
    """d(node)/d(source) with the other labelled sources held fixed: the
    engine's rule, on `cut`'s copy of node's interior."""
    copy, leaves = cut(node, sources)
    return tidy(diff(copy, leaves[source], simplify=False))


# ------------------------------------------------------------ the algebra
def _factors(expr: sympy.Expr) -> tuple[sympy.Expr, list[sympy.Expr]]:
    if expr.is_Number:
        return expr, []
    coefficient, rest = expr.as_coeff_mul() if isinstance(expr, sympy.Mul) else (sympy.S.One, (expr,))
    return coefficient, [f for f in rest if f != 1]


def ordered_product(*factors: sympy.Expr) -> sympy.Expr:
    """The product as the chain writes it, numbers merged in front:
    ``2*(a - y) * (1 - a**2) * x`` stays in that order (sympy would reorder it)."""
    coefficient, parts = sympy.S.One, []
    for f in factors:
        c, rest = _factors(sympy.sympify(f))
        coefficient *= c
        parts += rest
    if coefficient == 0:
        return sympy.S.Zero
    if coefficient != 1:
        parts.insert(0, coefficient)
    if not parts:
        return sympy.S.One
    return parts[0] if len(parts) == 1 else sympy.Mul(*parts, evaluate=False)


def ordered_sum(terms: list[sympy.Expr]) -> sympy.Expr:
    terms = [t for t in terms if t != 0]
    if not terms:
        return sympy.S.Zero
    return terms[0] if len(terms) == 1 else sympy.Add(*terms, evaluate=False)


def _size(expr: sympy.Expr) -> int:
    return int(sympy.count_ops(expr))


def nothing_to_cancel(expr: sympy.Expr) -> bool:
    """True when no two parts of `expr` share a symbol, at any level: then no
    factoring or cancelling can shorten it (``w0*delta0 + w1*delta1``), and
    sympy's algebra, slow on many symbols, is skipped.  Iterative."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if node.is_Atom:
            continue
        if node.is_Add and node.primitive()[0] != 1:  # 2*a - 2*y: a common number comes out
            return False
        seen: set = set()
        for arg in node.args:
            symbols = arg.free_symbols
            if seen & symbols:
                return False
            seen |= symbols
        stack.extend(node.args)
    return True


def _disjoint(parts) -> bool:
    seen: set = set()
    for part in parts:
        if seen & part.free_symbols:
            return False
        seen |= part.free_symbols
    return True


def _independent_parts(expr: sympy.Expr) -> bool:
    """A product (or sum of products) of parts already simplified, no two
    sharing a symbol: nothing can cancel between them."""
    terms = expr.args if expr.is_Add else (expr,)
    return _disjoint(terms) and all(_disjoint(t.args) if t.is_Mul else True for t in terms)


def readable(expr: sympy.Expr, budget: Budget, parts_simplified: bool = False) -> sympy.Expr:
    """The simplest form that still reads like the textbook: `expr` as the
    chain wrote it, unless factoring, cancelling and tidying signs
    (`simplify_within`) makes it strictly shorter.  Ties keep the engine's
    form: a(1 - a), 1 - a**2, 2(a - y) survive.  The algebra takes at most
    `SHARE` of what is left of `budget`; once it is spent, or where nothing
    can cancel (with `parts_simplified`: between the parts of a product of
    results already simplified), no algebra is tried.

    >>> a, y = sympy.symbols("a y")
    >>> readable(2*a - 2*y, Budget(2)), readable(a*(1 - a), Budget(2))
    (2*(a - y), a*(1 - a))
    """
    if budget.expired or nothing_to_cancel(expr):
        return expr
    if parts_simplified and _independent_parts(expr):
        return expr
    # factor and cancel; never the unbounded sympy.simplify (fallback_ops=0)
    simplified, _ = simplify_within(expr.doit(), budget, SHARE, fallback_ops=0, what="simplifying a step")
    return simplified if _reading_cost(simplified) < _reading_cost(expr) else expr


def _reading_cost(expr: sympy.Expr) -> float:
    """Operations, plus half a point for each sum in parentheses: factoring
    1 - a**2 into (1 - a)*(1 + a) saves an operation but costs two
    parentheses, so the textbook's form stays; 2*a - 2*y still becomes 2*(a - y)."""
    parenthesised = sum(1 for node in sympy.preorder_traversal(expr) if node.is_Add) - (1 if expr.is_Add else 0)
    return _size(expr) + 0.5 * parenthesised


# --------------------------------------------------------- the derivation
def nearby_builder(output: Value) -> Callable[[random.Random], Value]:
    """Copies of `output`'s graph with every labelled leaf moved a little (the
    same domain: log's argument stays positive, usually), tried until one computes."""

    def build(rng: random.Random) -> Value:
        for _ in range(50):
            try:
                return copy_graph(output, lambda leaf: leaf.data * rng.uniform(0.8, 1.2) + rng.uniform(-0.05, 0.05))[output]
            except (ValueError, ArithmeticError):
                continue
        return copy_graph(output)[output]

    return build


def _on_paths(output: Value, wrts: list[Value], sources: dict[Value, list[Value]]) -> list[Value]:
    """The labelled nodes on a path from one of `wrts` to `output`, in forward order."""
    reaches = set(wrts)
    order = [n for n in topological_order(output) if n in sources or n in reaches]
    for node in order:
        if any(s in reaches for s in sources.get(node, ())):
            reaches.add(node)
    needed = {output}
    for node in reversed(order):
        if node in needed:
            needed.update(s for s in sources.get(node, ()) if s in reaches)
    return [n for n in order if n in needed and n in reaches] if output in reaches else []


def derive(output: Value, wrt, *, budget: Budget | float | None = None) -> Derivation:
    """The chain-rule derivation of d(output)/d(wrt), step by step (see the module).

    `wrt` is a labelled node of the graph or a name in any spelling
    (``w^(1)_0,0``, ``w1_0_0``), or a list of them: one derivation, each
    step shared.  `budget` (a `Budget`, or seconds; by default
    `DEFAULT_BUDGET`) bounds the time spent on algebra: once it is spent,
    lines are shown as the chain builds them, right but unsimplified.
    """
    if not isinstance(output, Value):
        raise TypeError(f"derive: output must be a Value, got {type(output).__name__}")
    many = isinstance(wrt, (list, tuple))
    wanted = list(wrt) if many else [wrt]
    if not output.label:  # a copy, labelled: the user's graph is left as it was
        copies = copy_graph(output)
        wanted = [copies.get(w, w) if isinstance(w, Value) else w for w in wanted]
        output = copies[output]
        output.label = "f"
    nodes = labelled_nodes(output, where="derive")
    targets = list(dict.fromkeys(_node(w, nodes) for w in wanted))
    steps, named, final = _steps(output, targets, as_budget(budget))
    names = ", ".join(f"d{output.label}/d{t.label}" for t in targets)
    return Derivation(
        name="derive",
        title=f"{names} by the chain rule, from the graph",
        source="the engine's own rules, node by node",
        output=output,
        definitions=[(label, to_sympy(n)) for label, n in nodes.items() if n._op is not None],
        steps=steps,
        results=final,
        main=(output.label, targets[0].label),
        build=nearby_builder(output),
        named=named,
        notes=named_number_notes(nodes),
    )


def _node(wrt, nodes: dict[str, Value]) -> Value:
    if isinstance(wrt, Value):
        if not wrt.label or nodes.get(wrt.label) is not wrt:
            raise ValueError("derive: wrt must be a labelled node of the output's graph")
        return wrt
    return nodes[lookup(wrt, nodes, where="derive")]


def _steps(output: Value, wrts: list[Value], budget: Budget) -> tuple[list[Step], dict, list[Equation]]:
    sources = labelled_sources(output)
    path = _on_paths(output, wrts, sources)
    of = output.label
    if not path:
        return [], {}, [Equation(of, w.label, [sympy.S.Zero], note="no path leads from it to the output") for w in wrts]
    consumers: dict[Value, list[Value]] = {n: [] for n in path}
    for n in path:
        for s in sources.get(n, ()):
            if s in consumers:
                consumers[s].append(n)
    one = sympy.S.One
    results: dict[Value, sympy.Expr] = {output: one}
    shown: dict[Value, sympy.Expr] = {output: one}  # what a later step writes for dC/dN: the result, or its name
    written: dict[Value, sympy.Expr] = {output: one}  # dC/dN with every name written out, while short
    named: dict[str, tuple[str, str]] = {}
    steps = []
    for m in reversed(path[:-1]):
        locals_ = {n: readable(local_derivative(n, m, sources[n]), budget) for n in consumers[m]}
        product = ordered_sum([ordered_product(shown[n], locals_[n]) for n in consumers[m]])
        lines = [product]
        if m in wrts and any(shown[n] != results[n] and _size(results[n]) <= FINAL_WRITE_OUT_OPS for n in consumers[m]):
            # The step for a wrt writes the names it uses out once: a^(0)_k (1 - a^2) (w delta + ...).
            lines.append(ordered_sum([ordered_product(results[n], locals_[n]) for n in consumers[m]]))
        lines.append(readable(lines[-1], budget, parts_simplified=True))
        results[m] = lines[-1]
        name = derivative_name(of, m.label)
        textbook_z = (parse_textbook(m.label) or ("",))[0] == "z"
        if textbook_z or _size(results[m]) > WRITE_OUT_OPS:
            shown[m] = symbol(name)
            named[name] = (of, m.label)
        else:
            shown[m] = results[m]
        full = ordered_sum([ordered_product(written[n], locals_[n]) for n in consumers[m]])
        written[m] = full if _size(full) <= FINAL_WRITE_OUT_OPS else shown[m]
        steps.append(_step(of, m, consumers[m], locals_, lines, output, name if textbook_z else "", _held(m, consumers, sources)))
    names = {symbol(k) for k in named}
    final = []
    for wrt in (w for w in wrts if w in results):
        out = written[wrt]
        if results[wrt].free_symbols & names and not out.free_symbols & names:
            final.append(Equation(of, wrt.label, [results[wrt], readable(out, budget)], note="every name written out", as_built=True))
    final += [Equation(of, w.label, [sympy.S.Zero], note="no path leads from it to the output") for w in wrts if w not in results and w is not output]
    return steps, named, final


def _held(m: Value, consumers: dict[Value, list[Value]], sources: dict[Value, list[Value]]) -> dict[Value, tuple[str, ...]]:
    """For each node N that reads `m`: N's other labelled inputs that depend
    on `m` too.  dN/dm holds them fixed (a partial derivative): the chain
    counts the paths through them separately."""
    after, stack = set(), [m]
    while stack:  # every labelled node downstream of m, on the paths
        for n in consumers.get(stack.pop(), []):
            if n not in after:
                after.add(n)
                stack.append(n)
    return {n: tuple(s.label for s in sources[n] if s is not m and s in after) for n in consumers[m]}


def _step(of: str, m: Value, consumers: list[Value], locals_: dict, lines: list, output: Value, name: str, held: dict) -> Step:
    """One step: the local factors, the chain, the product and its simplified form."""
    lines = [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]
    title = f"d{of}/d{m.label}" + (f", named {name}" if name else "")
    if len(consumers) > 1:
        title += f": a sum over the {len(consumers)} nodes that read {m.label}"
    if consumers == [output]:  # read by the output itself: the local factor is the result
        return Step(title, [], Equation(of, m.label, lines, as_built=True))
    factors = [Equation(n.label, m.label, [locals_[n]], held=held[n], as_built=True) for n in consumers]
    terms = [([] if n is output else [Equation(of, n.label, [])]) + [factor] for n, factor in zip(consumers, factors)]
    if len(terms) == 1 and not held[consumers[0]]:
        chain = [(e.of, e.wrt) for e in terms[0]]
        return Step(title, factors, Equation(of, m.label, lines, chain=chain, as_built=True))
    text = " + ".join(" * ".join(e.lhs() for e in term) for term in terms)
    tex = " + ".join(" ".join(e.lhs_latex() for e in term) for term in terms)
    return Step(title, factors, Equation(of, m.label, lines, chain_text=(text, tex), as_built=True))
