"""The names of nodes, shared by networks, drawings and formulas: the textbook's ``w^(l)_j,k``, typed names, roles.

>>> textbook("w", 2, 1, 0), to_latex("w^(2)_1,0"), to_identifier("w^(2)_1,0")
('w^(2)_1,0', 'w^{(2)}_{1,0}', 'w2_1_0')
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from .engine import Value
from .graphs import topological_order

__all__ = ["NameLookupError", "derivative_name", "derivative_spellings", "labelled_nodes", "normal_name", "resolve"]
__all__ += ["parse_textbook", "role_names", "textbook", "textbook_spellings", "to_identifier", "to_latex"]
__all__ += ["with_identifiers"]

_TEXTBOOK = re.compile(r"^(?P<name>[A-Za-z]+)\^\((?P<layer>[^()]+)\)(?:_(?P<indices>[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*))?$")
_DERIVATIVE = re.compile(r"^d(?P<of>[^/\s]+)/d(?P<wrt>[^/\s]+)$")
_LATEX_SPECIALS = {ch: "\\" + ch for ch in "{}#$%&"} | {"\\": r"\backslash{}", "~": r"\textasciitilde{}"}
_GREEK_LATEX = {"delta": r"\delta", "sigma": r"\sigma"}
_TYPING_VARIANTS = str.maketrans({"δ": "delta", "σ": "sigma", "Δ": "delta", "{": None, "}": None, "\\": None})
# A textbook label as typed inside a formula: a^(L-1)_2, w^(1)_0,0, δ^{(2)}_{1}.
_TYPED_LABEL = r"\\?(?:[A-Za-z]+|[δσΔ])\^\{?\([^()\s]+\)\}?(?:_\{?[0-9A-Za-z]+(?:,[0-9A-Za-z]+)*\}?)?"
_TYPED_TEXTBOOK = re.compile(rf"(?<![\w^]){_TYPED_LABEL}")
_NAME = rf"(?:{_TYPED_LABEL}|[A-Za-z][A-Za-z0-9_]*)"
_TOKEN = re.compile(rf"{_TYPED_LABEL}|\w+|\s+|.")
_TYPED_DERIVATIVE = re.compile(rf"(?<![\w^])[d∂]\s*(?P<of>{_NAME})\s*/\s*[d∂]\s*(?P<wrt>{_NAME})")


def textbook(name: str, layer: int | str, *indices: int | str) -> str:
    """The plain-text label: ``textbook("b", 1, 0) == "b^(1)_0"``, ``textbook("w", "L") == "w^(L)"``."""
    subscript = f"_{','.join(str(i) for i in indices)}" if indices else ""
    return f"{name}^({layer}){subscript}"


def parse_textbook(label: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``("w", "2", ("1", "0"))`` for ``"w^(2)_1,0"``, ``("w", "L", ())`` for ``"w^(L)"``; None for another label."""
    if (match := _TEXTBOOK.match(label)) is None:
        return None
    indices = tuple(match["indices"].split(",")) if match["indices"] else ()
    return match["name"], match["layer"], indices


def to_latex(label: str) -> str:
    """LaTeX for a label: textbook labels get braces, ``A_prev`` becomes ``A_{prev}``, ``dC/da`` a fraction."""
    if (parsed := parse_textbook(label)) is not None:
        name, layer, indices = parsed
        subscript = f"_{{{','.join(indices)}}}" if indices else ""
        return f"{_GREEK_LATEX.get(name, name)}^{{({layer})}}{subscript}"
    if (derivative := _DERIVATIVE.match(label)) is not None:
        return rf"\frac{{\partial {to_latex(derivative['of'])}}}{{\partial {to_latex(derivative['wrt'])}}}"
    escaped = "".join(_LATEX_SPECIALS.get(ch, ch) for ch in label)
    base, underscore, subscript = escaped.partition("_")
    if underscore and subscript and "_" not in subscript and "^" not in base + subscript:
        return f"{base}_{{{subscript}}}"
    return escaped.replace("_", r"\_").replace("^", r"\^{}")


def derivative_name(of: str, wrt: str) -> str:
    """The label of d(of)/d(wrt): the textbook's ``delta^(l)_j`` for a weighted sum ``z^(l)_j``, else ``d<of>/d<wrt>``.

    >>> derivative_name("C", "z^(2)_1"), derivative_name("C", "a")
    ('delta^(2)_1', 'dC/da')
    """
    if (parsed := parse_textbook(wrt)) is not None and parsed[0] == "z":
        return textbook("delta", parsed[1], *parsed[2])
    return f"d{of}/d{wrt}"


def to_identifier(label: str) -> str:
    """A Python-identifier spelling of a label, for formulas typed by hand."""
    if (parsed := parse_textbook(label)) is not None:
        name, layer, indices = parsed
        return "_".join((f"{name}{layer}".replace("-", "m"), *indices))
    identifier = re.sub(r"\W+", "_", label).strip("_")
    return "v_" + identifier if not identifier or identifier[0].isdigit() else identifier


def labelled_nodes(root: Value, where: str = "") -> dict[str, Value]:
    """Every labelled node `root` depends on, by label, in topological order; two nodes with one label raise.

    >>> x = Value(2.0, label="x"); y = x * x; y.label = "y"
    >>> list(labelled_nodes(y))
    ['x', 'y']
    """
    nodes: dict[str, Value] = {}
    for node in topological_order(root):
        if node.label and nodes.setdefault(node.label, node) is not node:
            prefix = f"{where}: " if where else ""
            raise ValueError(f"{prefix}two different nodes are labelled {node.label!r}; give them distinct labels")
    return nodes


class NameLookupError(KeyError, ValueError):
    """A typed name matches no label, or several."""

    def __str__(self) -> str:  # not in quotes, as KeyError prints it
        return str(self.args[0])


def normal_name(name: str) -> str:
    """A name as Python's parser reads it (NFKC, PEP 3131): the one rule for every name typed.

    >>> normal_name("ﬁ"), normal_name("𝑧")
    ('fi', 'z')
    """
    return unicodedata.normalize("NFKC", name)


def _normal(name: str) -> str:
    """A typed spelling as Python reads it, without spaces, braces, backslashes, Greek letters as words."""
    return re.sub(r"\s", "", normal_name(name).translate(_TYPING_VARIANTS))


def resolve(name: str, labels: Iterable[str], aliases: Mapping[str, str] | None = None, where: str = "") -> str:
    """The label a typed `name` means among `labels` (any spelling), else among `aliases`; else `NameLookupError`.

    >>> resolve("w1_0_0", ["w^(1)_0,0", "x"]), resolve("δ^(2)_1", ["delta^(2)_1"])
    ('w^(1)_0,0', 'delta^(2)_1')
    """
    labels = list(dict.fromkeys(labels))
    prefix = f"{where}: " if where else ""
    if name in labels:
        return name
    typed = _normal(name)
    found = [label for label in labels if typed in (_normal(label), to_identifier(label))]
    if len(found) > 1:
        raise NameLookupError(f"{prefix}{name!r} is ambiguous: it names {', '.join(found)}")
    if found:
        return found[0]
    for alias in (name, normal_name(name)):
        if aliases and alias in aliases:
            return aliases[alias]
    shown = (label if to_identifier(label) == label else f"{label} ({to_identifier(label)})" for label in labels)
    raise NameLookupError(f"{prefix}unknown name {name!r}; the names here are: {', '.join(shown)}")


def _resolved(name: str, labels: list[str], aliases: Mapping[str, str] | None = None) -> str | None:
    try:
        return resolve(name, labels, aliases)
    except NameLookupError:
        return None


def with_identifiers(text: str, labels: Iterable[str]) -> str:
    """`text` with each of `labels` typed in it written as its identifier.

    >>> with_identifiers("2*(a^(L) - y)", ["a^(L)", "y"])
    '2*(aL - y)'
    """
    labels = list(dict.fromkeys(labels))

    def replace(match: re.Match[str]) -> str:
        label = _resolved(match.group(0), labels)
        return match.group(0) if label is None else to_identifier(label)

    return _TYPED_TEXTBOOK.sub(replace, text)


def textbook_spellings(text: str) -> tuple[str, dict[str, str]]:
    """`text` with each textbook label in it as its identifier, and {identifier: label}; ``x^(2)`` is left a power.

    >>> textbook_spellings("w^(L)*a^{(L-1)}_0 + x^(2)")
    ('wL*aLm1_0 + x^(2)', {'wL': 'w^(L)', 'aLm1_0': 'a^(L-1)_0'})
    """
    found: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        parsed = parse_textbook(_normal(match.group(0)))
        if parsed is None or (not parsed[2] and parsed[1].lstrip("-").isdigit()):
            return match.group(0)
        label = textbook(parsed[0], parsed[1], *parsed[2])
        found[to_identifier(label)] = label
        return to_identifier(label)

    return _TYPED_TEXTBOOK.sub(replace, text), found


def derivative_spellings(
    text: str, labels: Iterable[str], aliases: Mapping[str, str] | None = None
) -> tuple[str, dict[str, tuple[str, str]]]:
    """`text` with each derivative of labels in it as an identifier, and {identifier: (of, wrt)}; else a division.

    >>> derivative_spellings("dL/dZ * W + dx/dy", ["L", "Z", "W", "dx", "dy", "x", "y"])
    ('D_L_D_Z * W + dx/dy', {'D_L_D_Z': ('L', 'Z')})
    """
    labels = list(dict.fromkeys(labels))
    found: dict[str, tuple[str, str]] = {}

    def replace(match: re.Match[str]) -> str:
        of, wrt = (_resolved(match[part], labels, aliases) for part in ("of", "wrt"))
        if match.group(0).replace(" ", "").split("/")[0] in labels or of is None or wrt is None:
            return match.group(0)
        name = f"D_{to_identifier(of)}_D_{to_identifier(wrt)}"
        found[name] = (of, wrt)
        return name

    return _TYPED_DERIVATIVE.sub(replace, text), found


def _shortened(text: str, width: int) -> str:
    """`text` cut to about `width` characters by an ellipsis in the middle, between whole labels and words."""
    if len(text) <= width:
        return text
    tokens, head, tail = _TOKEN.findall(text), "", ""
    while tokens and len(tail) + len(tokens[-1]) <= width // 2:
        tail = tokens.pop() + tail
    while tokens and len(head) + len(tokens[0]) + len(tail) < width:
        head += tokens.pop(0)
    return f"{head}…{tail}"


def role_names(order: Sequence[Value], width: int = 28) -> dict[Value, str]:
    """A distinct name per node: its label, else its role from its op and operands, cut to `width`; ``'`` on a repeat.

    >>> a = Value(0.5, label="a^(2)_0")
    >>> list(role_names(topological_order((a - 1.0) * Value(3.0, label="x"))).values())
    ['a^(2)_0', 'y_0', '(a^(2)_0 - y_0)', 'x', '(a^(2)_0 - y_0)*x']
    """
    counts = Counter(node.label for node in order if node.label)
    taken = {label for label, count in counts.items() if count == 1}  # kept as typed: made-up names step around
    repeats: dict[str, int] = {}
    names: dict[Value, str] = {}
    kinds: dict[Value, str] = {}  # how a made-up name reads as an operand: a sum (in parentheses), a product...
    targets: dict[Value, str] = {}  # a constant taken from a network's output a^(l)_j or z^(l)_j is its target y_j
    for node in order:
        if node.op == "-" and not (constant := node.parents[1]).label and constant._op is None:
            parsed = parse_textbook(node.parents[0].label)
            if parsed is not None and parsed[0] in ("a", "z"):
                targets.setdefault(constant, "_".join(("y", *parsed[2])))
    for node in order:
        if node.label and counts[node.label] == 1:
            names[node] = node.label
            continue
        base = name = node.label or targets.get(node) or _role(node, names, kinds, width)
        while name in taken:  # x', x'', x''', x'4...: counting on from the last repeat, not from 1 again
            repeats[base] = k = repeats.get(base, 0) + 1
            name = base + ("'" * k if k < 4 else f"'{k}")
        taken.add(name)
        names[node] = name
    return names


def _role(node: Value, names: dict[Value, str], kinds: dict[Value, str], width: int) -> str:
    """An unlabelled node's name from its op and its operands' names; its kind goes into `kinds`."""
    op = node._op
    if op is None:
        return f"{node._data:g}"  # a name, not a number user code takes (observers see none)
    a, b = node.parents[0], node.parents[-1]

    def inside(parent: Value) -> str:  # a sum's terms, without their parentheses (not a repeat's: (x + y)')
        return names[parent][1:-1] if kinds.get(parent) == "sum" and names[parent][-1] == ")" else names[parent]

    if op.name in ("+", "-"):  # a sum adds its terms to its left operand's, within one pair of parentheses
        left, right = inside(a), inside(b) if op.name == "+" else names[b]
        kinds[node] = "sum"
        return f"({_shortened(f'{left} {op.name} {right}', width - 2)})"
    kinds[node] = "product" if op.name in ("*", "/", "neg") else "power" if "**" in op.name else "call"

    def operand(parent: Value) -> str:
        if op.notation.startswith(f"{op.name}("):
            return inside(parent)  # tanh(x + y), not tanh((x + y))
        wrap = kinds.get(parent) == "product" and op.name == "/" and parent is b
        wrap = wrap or (kinds.get(parent) in ("product", "power") and "**" in op.name)
        return f"({names[parent]})" if wrap else names[parent]

    text = re.sub(r"\b[ab]\b", lambda m: operand(a if m.group() == "a" else b), op.notation.replace(" ** ", "**"))
    return _shortened(text.replace(" * ", "*").replace(" / ", "/"), width)
