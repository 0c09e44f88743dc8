"""The names of nodes: the textbook notation's three spellings (plain text,
LaTeX, identifier), typed names, and nodes found by label."""

import unicodedata

import pytest

from microgrid import Value
from microgrid.names import labelled_nodes, parse_textbook, textbook, to_identifier, to_latex


@pytest.mark.parametrize(
    "label, latex, identifier",
    [
        ("w^(2)_1,0", "w^{(2)}_{1,0}", "w2_1_0"),
        ("b^(1)_0", "b^{(1)}_{0}", "b1_0"),
        ("a^(0)_3", "a^{(0)}_{3}", "a0_3"),
        ("w^(L)", "w^{(L)}", "wL"),
        ("a^(L-1)", "a^{(L-1)}", "aLm1"),
        ("a^(L-1)_0", "a^{(L-1)}_{0}", "aLm1_0"),
        ("A_prev", "A_{prev}", "A_prev"),
        ("y", "y", "y"),
        ("x & {y}", r"x \& \{y\}", "x_y"),
        ("2x", "2x", "v_2x"),
    ],
)
def test_spellings(label, latex, identifier):
    assert to_latex(label) == latex
    assert to_identifier(label) == identifier


def test_textbook_round_trip():
    assert textbook("w", 2, 1, 0) == "w^(2)_1,0"
    assert textbook("z", "L") == "z^(L)"
    assert parse_textbook(textbook("w", 3, 0, 1)) == ("w", "3", ("0", "1"))
    assert parse_textbook("W") is None


# --------------------------------------------------------------- resolve
import pytest  # noqa: E402

from microgrid.names import NameLookupError, derivative_name, resolve, with_identifiers  # noqa: E402


@pytest.mark.parametrize("typed", ["w^(1)_0,0", "w1_0_0", "w^{(1)}_{0,0}", " w^(1)_0,0 "])
def test_one_rule_for_every_spelling(typed):
    assert resolve(typed, ["w^(1)_0,0", "w^(1)_1,1", "x"]) == "w^(1)_0,0"


@pytest.mark.parametrize("typed", ["ｗ1_0_0", "ｗ^(1)_0,0", "w^（1）_0,0", "ｘ", "𝑥", "ｈ1_1"])
def test_a_compatibility_spelling_resolves_as_the_plain_one(typed):
    plain = unicodedata.normalize("NFKC", typed)  # how Python reads the name
    assert plain != typed and plain.isascii()
    labels, aliases = ["w^(1)_0,0", "w^(1)_1,1", "x"], {"h1_1": "w^(1)_1,1"}
    assert resolve(typed, labels, aliases) == resolve(plain, labels, aliases)
    assert resolve(typed, labels, aliases) == {"w": "w^(1)_0,0", "x": "x", "h": "w^(1)_1,1"}[plain[0]]


def test_delta_greek_and_latex():
    assert resolve("δ^(2)_1", ["delta^(2)_1"]) == resolve("\\delta^{(2)}_{1}", ["delta^(2)_1"]) == "delta^(2)_1"
    assert to_latex("delta^(2)_1") == r"\delta^{(2)}_{1}"
    assert derivative_name("C", "z^(2)_1") == "delta^(2)_1" and derivative_name("C", "a") == "dC/da"
    assert to_latex("dC/da^(1)_0") == r"\frac{\partial C}{\partial a^{(1)}_{0}}"


def test_unknown_and_ambiguous_names_list_the_known_ones():
    with pytest.raises(NameLookupError, match=r"unknown name 'q'; the names here are: a\^\(1\)_0 \(a1_0\), x"):
        resolve("q", ["a^(1)_0", "x"])
    with pytest.raises(NameLookupError, match="ambiguous"):
        resolve("a1_0", ["a^(1)_0", "a1_0x", "a1/0"])


def test_aliases_come_after_labels():
    # an alias never shadows what a label's own identifier means (w1_1_1 means w^(1)_1,1)
    assert resolve("w1_1_1", ["w^(1)_1,1", "w^(1)_0,0"], aliases={"w1_1_1": "w^(1)_0,0"}) == "w^(1)_1,1"
    assert resolve("h1_1", ["a^(1)_0"], aliases={"h1_1": "a^(1)_0"}) == "a^(1)_0"


def test_textbook_names_inside_a_formula():
    text = with_identifiers("2*(a^(L-1)_2 - y) + w^(1)_0,0*x^(2)", ["a^(L-1)_2", "y", "w^(1)_0,0", "x"])
    assert text == "2*(aLm1_2 - y) + w1_0_0*x^(2)"  # x^(2) names no label: left for the parser to refuse
    assert to_identifier("a^(L-1)_2") == "aLm1_2" and to_identifier("w^(1)_0,0") == "w1_0_0"


# --------------------------------------------------------- labelled_nodes
def test_labelled_nodes_by_label_parents_first():
    x, w = Value(2.0, label="x"), Value(-1.0, label="w")
    z = x * w + 3.0  # the product and the constant stay unlabelled
    z.label = "z"
    out = z.tanh() * z  # z read twice: one node, one entry
    out.label = "out"
    nodes = labelled_nodes(out)
    assert list(nodes) in (["x", "w", "z", "out"], ["w", "x", "z", "out"])
    assert nodes["x"] is x and nodes["w"] is w and nodes["z"] is z and nodes["out"] is out


def test_two_nodes_with_one_label_raise_naming_it():
    a, b = Value(1.0, label="x"), Value(2.0, label="x")
    with pytest.raises(ValueError, match=r"^two different nodes are labelled 'x'; give them distinct labels$"):
        labelled_nodes(a * b)
    with pytest.raises(ValueError, match=r"^derive: two different nodes are labelled 'x'"):
        labelled_nodes(a + b, where="derive")


def test_a_long_chain_needs_no_recursion():
    x = Value(0.5, label="x")
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.label = "y"
    assert list(labelled_nodes(y)) == ["x", "y"]


# ------------------------------------------------------------ role_names
def test_a_role_name_read_as_python_gives_the_nodes_value():
    import math

    from microgrid.graphs import topological_order
    from microgrid.names import role_names

    x, y, z = Value(0.7, label="x"), Value(-1.3, label="y"), Value(2.0, label="z")
    roots = [
        ((x * y).tanh() + x * z) / (y * z) ** 2 - (-(x / y)),
        (x - y) * (x + y) / (z - x * y),
        (x * 2.5 + y.exp()) ** 3 - z.sigmoid() * (x + y + z),
    ]
    scope = {"x": x.data, "y": y.data, "z": z.data, "tanh": math.tanh, "exp": math.exp}
    scope["sigmoid"] = lambda v: 1 / (1 + math.exp(-v))
    checked = 0
    for root in roots:
        for node, name in role_names(topological_order(root)).items():
            if "…" not in name:  # a whole name, not cut short
                assert eval(name, {"__builtins__": {}}, scope) == pytest.approx(node.data, rel=1e-12), name
                checked += 1
    assert checked >= 20


def test_role_names_of_a_network_read_as_the_textbook_writes_them():
    from microgrid.graphs import topological_order
    from microgrid.names import role_names

    w, a, b = Value(0.5, label="w^(2)_0,1"), Value(-1.0, label="a^(1)_1"), Value(0.1, label="b^(2)_0")
    z = w * a + b
    z._label = "z^(2)_0"
    cost = (z - 1.0) ** 2
    names = role_names(topological_order(cost))
    assert names[z.parents[0]] == "w^(2)_0,1*a^(1)_1"
    assert [names[n] for n in cost.parents[0].parents] == ["z^(2)_0", "y_0"]  # the target of output z^(2)_0
    assert names[cost] == "(z^(2)_0 - y_0)**2"
    twins = Value(1.0, label="x") * Value(2.0, label="x") * 3 * 3
    assert sorted(role_names(topological_order(twins)).values()) == [
        "3",
        "3'",
        "x",
        "x'",
        "x*x'",
        "x*x'*3",
        "x*x'*3*3'",
    ]


def test_a_repeated_sum_keeps_its_mark_inside_a_larger_name():
    from microgrid.graphs import topological_order
    from microgrid.names import role_names

    x, y = Value(1.0, label="x"), Value(2.0, label="y")
    total = (x + y) + (x + y)
    assert list(role_names(topological_order(total)).values())[-2:] == ["(x + y)'", "(x + y + (x + y)')"]
