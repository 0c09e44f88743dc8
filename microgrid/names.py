"""The names of nodes: the textbook notation, typed names, and nodes found by label.

The textbook (3Blue1Brown) notation names a network's nodes in three forms.

``w^(l)_j,k`` is the weight into neuron j of layer l from neuron k of layer
l-1, ``b^(l)_j`` its bias, ``z^(l)_j`` the weighted sum, ``a^(l)_j`` the
activation; the inputs are ``a^(0)_k``.  Layers count from 1, neurons from 0,
as in the seeds.  Each label has

* a plain-text form, what `Value.label` holds:        ``w^(2)_1,0``
* a LaTeX form, for drawings and symbolic output:      ``w^{(2)}_{1,0}``
* an identifier form, for typing it in a formula:      ``w2_1_0``

>>> textbook("w", 2, 1, 0)
'w^(2)_1,0'
>>> to_latex("w^(2)_1,0")
'w^{(2)}_{1,0}'
>>> to_identifier("w^(2)_1,0")
'w2_1_0'
>>> to_latex("A_prev")
'A_{prev}'

A layer may be named rather than numbered, as the seeds do, and a single
neuron per layer needs no index: ``a^(L-1)`` is ``a^{(L-1)}`` in LaTeX and
``aLm1`` as an identifier.  ``delta^(l)_j`` is the textbook's error signal
dC/dz^(l)_j (LaTeX ``\\delta``), and ``dC/dx`` names a derivative.

`resolve` is the one rule that turns a name a user typed (any of the
spellings, ``δ`` for ``delta``, LaTeX braces) into a label, and
`labelled_nodes` the one way to find a graph's nodes by label.  Networks,
drawings and formulas all name nodes this way, so it lives beside the engine.
"""

from __future__ import annotations

import re

from .engine import Value, topological_order

__all__ = [
    "labelled_nodes",
    "textbook",
    "parse_textbook",
    "to_latex",
    "to_identifier",
    "derivative_name",
    "resolve",
    "NameLookupError",
    "with_identifiers",
    "textbook_spellings",
    "derivative_spellings",
]

_TEXTBOOK = re.compile(r"^(?P<name>[A-Za-z]+)\^\((?P<layer>[^()]+)\)(?:_(?P<indices>[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*))?$")
_LATEX_SPECIALS = {
    "\\": r"\backslash{}",
    "{": r"\{",
    "}": r"\}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "~": r"\textasciitilde{}",
}


def textbook(name: str, layer: int | str, *indices: int | str) -> str:
    """The plain-text label: ``textbook("b", 1, 0) == "b^(1)_0"``, ``textbook("w", "L") == "w^(L)"``."""
    subscript = f"_{','.join(str(i) for i in indices)}" if indices else ""
    return f"{name}^({layer}){subscript}"


def parse_textbook(label: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``("w", "2", ("1", "0"))`` for ``"w^(2)_1,0"``, ``("w", "L", ())`` for
    ``"w^(L)"``; None for any other label."""
    match = _TEXTBOOK.match(label)
    if match is None:
        return None
    indices = tuple(match["indices"].split(",")) if match["indices"] else ()
    return match["name"], match["layer"], indices


def to_latex(label: str) -> str:
    """LaTeX for a label: textbook labels get braces, ``A_prev`` becomes ``A_{prev}``."""
    parsed = parse_textbook(label)
    if parsed is not None:
        name, layer, indices = parsed
        subscript = f"_{{{','.join(indices)}}}" if indices else ""
        return f"{_GREEK_LATEX.get(name, name)}^{{({layer})}}{subscript}"
    derivative = _DERIVATIVE.match(label)
    if derivative is not None:
        return rf"\frac{{\partial {to_latex(derivative['of'])}}}{{\partial {to_latex(derivative['wrt'])}}}"
    escaped = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in label)
    base, underscore, subscript = escaped.partition("_")
    if underscore and subscript and "_" not in subscript and "^" not in base + subscript:
        return f"{base}_{{{subscript}}}"
    return escaped.replace("_", r"\_").replace("^", r"\^{}")


_GREEK_LATEX = {"delta": r"\delta", "sigma": r"\sigma"}
_DERIVATIVE = re.compile(r"^d(?P<of>[^/\s]+)/d(?P<wrt>[^/\s]+)$")


def derivative_name(of: str, wrt: str) -> str:
    """The label of d(of)/d(wrt) as a named quantity: the textbook's
    ``delta^(l)_j`` for a weighted sum ``z^(l)_j``, else ``d<of>/d<wrt>``.

    >>> derivative_name("C", "z^(2)_1"), derivative_name("C", "a")
    ('delta^(2)_1', 'dC/da')
    """
    parsed = parse_textbook(wrt)
    if parsed is not None and parsed[0] == "z":
        return textbook("delta", parsed[1], *parsed[2])
    return f"d{of}/d{wrt}"


def to_identifier(label: str) -> str:
    """A Python-identifier spelling of a label, for formulas typed by hand."""
    parsed = parse_textbook(label)
    if parsed is not None:
        name, layer, indices = parsed
        return "_".join((f"{name}{layer}".replace("-", "m"),) + indices)
    identifier = re.sub(r"\W+", "_", label).strip("_")
    if not identifier or identifier[0].isdigit():
        identifier = "v_" + identifier
    return identifier


# ------------------------------------------------------------ nodes by label
def labelled_nodes(root: Value, where: str = "") -> dict[str, Value]:
    """Every labelled node `root` depends on (`root` included), by label, in
    topological order.  Two different nodes with one label raise a ValueError
    naming it: a name must mean one node, never silently the last one seen.

    >>> x = Value(2.0, label="x"); y = x * x; y.label = "y"
    >>> list(labelled_nodes(y))
    ['x', 'y']
    """
    prefix = f"{where}: " if where else ""
    nodes: dict[str, Value] = {}
    for node in topological_order(root):
        if node.label and nodes.setdefault(node.label, node) is not node:
            raise ValueError(f"{prefix}two different nodes are labelled {node.label!r}; give them distinct labels")
    return nodes


# ------------------------------------------------------------ typed names
class NameLookupError(KeyError, ValueError):
    """A typed name matches no label, or several."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


_TYPED_GREEK = {"δ": "delta", "σ": "sigma", "Δ": "delta"}


def _normal(name: str) -> str:
    """A spelling with the typing variants removed: spaces, LaTeX braces and
    backslashes, Greek letters as words: ``\\delta^{(2)}_{0}`` -> ``delta^(2)_0``."""
    for letter, word in _TYPED_GREEK.items():
        name = name.replace(letter, word)
    return re.sub(r"[\s{}\\]", "", name)


def resolve(name: str, labels, aliases=None, where: str = "") -> str:
    """The label `name` means among `labels`: the label itself, its
    identifier (``w1_0_0``), its textbook spelling typed with braces, spaces
    or ``δ``; then `aliases` ({alias: label}, e.g. a seed's own notation).
    One rule for ``--wrt`` and claims.  An unknown or ambiguous name raises
    `NameLookupError` listing the names known.

    >>> resolve("w1_0_0", ["w^(1)_0,0", "x"]), resolve("δ^(2)_1", ["delta^(2)_1"])
    ('w^(1)_0,0', 'delta^(2)_1')
    """
    labels = list(dict.fromkeys(labels))
    prefix = f"{where}: " if where else ""
    if name in labels:
        return name
    typed = _normal(name)
    found = [label for label in labels if typed in (_normal(label), to_identifier(label))]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise NameLookupError(f"{prefix}{name!r} is ambiguous: it names {', '.join(found)}")
    if aliases and name in aliases:
        return aliases[name]
    shown = ", ".join(f"{label} ({to_identifier(label)})" if to_identifier(label) != label else label for label in labels)
    raise NameLookupError(f"{prefix}unknown name {name!r}; the names here are: {shown}")


# A textbook label as typed inside a formula: a^(L-1)_2, w^(1)_0,0, δ^{(2)}_{1}.
_TYPED_TEXTBOOK = re.compile(
    r"(?<![\w^])\\?(?:[A-Za-z]+|[δσΔ])\^\{?\([^()\s]+\)\}?(?:_\{?[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*\}?)?"
)


def with_identifiers(text: str, labels, aliases=None) -> tuple[str, dict[str, str]]:
    """`text` with each textbook label in it (``a^(L-1)_2``) written as an
    identifier the safe parser accepts, and {identifier: label} for every
    name the text may now use (each label's identifier, then `aliases`).
    A ``^(...)`` that names no label is left alone (the parser will say
    to use ``**`` for powers).

    >>> with_identifiers("2*(a^(L) - y)", ["a^(L)", "y"])[0]
    '2*(aL - y)'
    """
    labels = list(dict.fromkeys(labels))
    names = {to_identifier(label): label for label in labels}
    names.update({label: label for label in labels if label.isidentifier()})
    for alias, label in (aliases or {}).items():
        names.setdefault(alias, label)

    def replace(match: re.Match) -> str:
        try:
            label = resolve(match.group(0), labels)
        except NameLookupError:
            return match.group(0)
        return to_identifier(label)

    return _TYPED_TEXTBOOK.sub(replace, text), names


def textbook_spellings(text: str) -> tuple[str, dict[str, str]]:
    """`text` with each textbook label typed in it written as its identifier,
    and {identifier: label}.  A label is a ``^(layer)`` with an index
    (``w^(1)_0,0``) or a layer that is not a number (``a^(L-1)``); a bare
    ``x^(2)`` is left alone, for the parser to say that ``**`` is the power.

    >>> textbook_spellings("w^(L)*a^{(L-1)}_0 + x^(2)")
    ('wL*aLm1_0 + x^(2)', {'wL': 'w^(L)', 'aLm1_0': 'a^(L-1)_0'})
    """
    found: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        parsed = parse_textbook(_normal(match.group(0)))
        if parsed is None or (not parsed[2] and parsed[1].lstrip("-").isdigit()):
            return match.group(0)
        label = textbook(*parsed[:2], *parsed[2])
        found[to_identifier(label)] = label
        return to_identifier(label)

    return _TYPED_TEXTBOOK.sub(replace, text), found


_NAME = r"(?:\\?(?:[A-Za-z]+|[δσΔ])\^\{?\([^()\s]+\)\}?(?:_\{?[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*\}?)?|[A-Za-z][A-Za-z0-9_]*)"
_TYPED_DERIVATIVE = re.compile(rf"(?<![\w^])[d∂]\s*(?P<of>{_NAME})\s*/\s*[d∂]\s*(?P<wrt>{_NAME})")


def derivative_spellings(text: str, labels, aliases=None) -> tuple[str, dict[str, tuple[str, str]]]:
    """`text` with each derivative typed in it (``dC/da^(L)_0``, ``∂L/∂Z``)
    written as an identifier, and {identifier: (of, wrt)} as labels.  A
    ``dx/dy`` whose parts are not both labels (or where ``dx`` is a label
    itself) is left alone: it is a division.

    >>> derivative_spellings("dL/dZ * W + dx/dy", ["L", "Z", "W", "dx", "dy", "x", "y"])
    ('D_L_D_Z * W + dx/dy', {'D_L_D_Z': ('L', 'Z')})
    """
    labels = list(dict.fromkeys(labels))
    found: dict[str, tuple[str, str]] = {}

    def replace(match: re.Match) -> str:
        plain = match.group(0).replace(" ", "")
        if plain.split("/")[0] in labels:
            return match.group(0)
        try:
            of, wrt = (resolve(match[part], labels, aliases) for part in ("of", "wrt"))
        except NameLookupError:
            return match.group(0)
        name = f"D_{to_identifier(of)}_D_{to_identifier(wrt)}"
        found[name] = (of, wrt)
        return name

    return _TYPED_DERIVATIVE.sub(replace, text), found
