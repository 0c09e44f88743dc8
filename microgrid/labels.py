"""The textbook (3Blue1Brown) notation for a network's nodes, in three forms.

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
``aLm1`` as an identifier.
"""

from __future__ import annotations

import re

__all__ = ["textbook", "parse_textbook", "to_latex", "to_identifier"]

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
        return f"{name}^{{({layer})}}{subscript}"
    escaped = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in label)
    base, underscore, subscript = escaped.partition("_")
    if underscore and subscript and "_" not in subscript and "^" not in base + subscript:
        return f"{base}_{{{subscript}}}"
    return escaped.replace("_", r"\_").replace("^", r"\^{}")


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
