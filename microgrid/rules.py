"""An op's local derivatives, written once as formulas, made into one function.

A rule is a formula in the operands ``a``, ``b`` and the result ``out``: numbers, ``+ - * / ^`` (``^`` a power) and
calls of the ops by name (``sigmoid(a)``), nothing else. The same text is what `explain_backward` shows and what
formulas are made of; here it becomes ``partials(a, [b,] out)``: numbers from floats, a graph from Values.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence

__all__ = ["CALLABLE", "called_names", "compile_rules", "rule_tree"]

#: The ops a rule may call, by name (the engine keeps it as `OPS`); resolved when the rule runs, so a name always
#: means the op registered now.
CALLABLE: dict[str, object] = {"__builtins__": {}}
_FORMS = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant)
_RULE_NODES = (*_FORMS, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def compile_rules(name: str, arity: int, rules: Sequence[str]) -> Callable[..., object]:
    """``partials(a, [b,] out)`` from the rule formulas, each checked first: a number or a tuple of two.

    >>> compile_rules("*", 2, ["b", "a"])(2.0, 3.0, 6.0)
    (3.0, 2.0)
    """
    if isinstance(rules, str) or len(rules) != arity:
        raise ValueError(f"define_op({name!r}): give one rule per operand (formulas in a, b, out), got {rules!r}")
    operands = ("a", "out") if arity == 1 else ("a", "b", "out")
    bodies = [_checked_rule(name, rule, set(operands)) for rule in rules]
    body = bodies[0] if arity == 1 else f"({bodies[0]}, {bodies[1]})"
    code = compile(f"lambda {', '.join(operands)}: {body}", f"<rules of {name}>", "eval")
    partials: Callable[..., object] = eval(code, CALLABLE)  # checked above: arithmetic on a, b, out and ops
    return partials


def _checked_rule(name: str, rule: object, operands: set[str]) -> str:
    """`rule` as Python source (numbers as floats, ``^`` as ``**``), or ValueError naming it."""
    try:
        tree, problem = _read(rule, operands)
    except SyntaxError as error:
        tree, problem = None, f"not a formula ({error.msg})"
    if problem or tree is None:
        raise ValueError(f"define_op({name!r}): the rule {rule!r} cannot be read: {problem}")
    for node in ast.walk(tree):  # an op called as ``op.apply(x)``: the same call, without Python's detour for __call__
        if isinstance(node, ast.Call):
            node.func = ast.Attribute(node.func, "apply", ast.Load())
    return ast.unparse(tree)


def rule_tree(rule: str) -> ast.Expression:
    """A rule parsed, with its numbers as floats: the same text reads the same everywhere."""
    tree = ast.parse(rule.replace("^", "**").strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            node.value = float(node.value)
    return tree


def _read(rule: object, operands: set[str]) -> tuple[ast.Expression | None, str]:
    """The rule's tree and "", or None and what is not allowed in it."""
    if not isinstance(rule, str):
        return None, f"a formula must be a str, got {type(rule).__name__}"
    tree = rule_tree(rule)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, _RULE_NODES) or (isinstance(node, ast.Constant) and type(node.value) is not float):
            return None, f"{ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__} is not allowed"
        if isinstance(node, ast.Call) and (node.keywords or not isinstance(node.func, ast.Name)):
            return None, "only ops may be called, with operands only"
        if isinstance(node, ast.Name) and node.id not in operands and id(node) not in called:
            return None, f"{node.id!r} is not one of {', '.join(sorted(operands))}"
    return tree, ""


def called_names(rules: Sequence[str]) -> set[str]:
    """The ops a (checked) op's rules call by name.

    >>> called_names(["cos(a)", "2*out"])
    {'cos'}
    """
    calls = (node for rule in rules for node in ast.walk(rule_tree(rule)) if isinstance(node, ast.Call))
    return {call.func.id for call in calls if isinstance(call.func, ast.Name)}
