"""Read a representation back from its string form (``parse_rep(str(rep)) == rep``).

The string is a Python expression over symml's constructors; it is evaluated by walking its
syntax tree with a fixed vocabulary (never ``eval``), so a config file cannot run code.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from symml import groups as _groups
from symml.reps.basis import change_basis
from symml.reps.constructors import irrep, pullback, quotient, regular, sign, standard, trivial
from symml.reps.rep import Rep, direct_sum

_MAX_COPIES = 100_000  # `k * rep` builds k parts: refuse sizes no model uses


def _restrict(rep: Rep, subgroup: _groups.Group, axis: Any = (0.0, 0.0, 1.0)) -> Rep:
    return rep.restrict(_groups.inclusion(subgroup, rep.group, axis=tuple(axis)))


# every group type symml.groups exports (a new group is readable once it is exported there)
_GROUP_TYPES: dict[str, Callable[..., Any]] = {
    name: obj
    for name in _groups.__all__
    if isinstance(obj := getattr(_groups, name), type)
    and issubclass(obj, _groups.Group)
    and not inspect.isabstract(obj)
}
_NAMES: dict[str, Callable[..., Any]] = {
    # groups
    **_GROUP_TYPES,
    "SO": _groups.SO,
    "O": _groups.O,
    "direct_product": _groups.direct_product,
    "p4": _groups.p4,
    "p4m": _groups.p4m,
    "E": _groups.E,
    "SE": _groups.SE,
    # representations
    "irrep": irrep,
    "trivial": trivial,
    "sign": sign,
    "standard": standard,
    "regular": regular,
    "quotient": quotient,
    "pullback": pullback,
    "tensor": lambda a, b: a.tensor(b),
    "dual": lambda a: a.dual(),
    "restrict": _restrict,
    "change_basis": change_basis,
    "direct_sum": direct_sum,
}


def parse_rep(text: str, names: Mapping[str, Any] | None = None) -> Rep:
    """Parse a representation from its string form.

    Args:
        text: the expression.
        names: extra names it may use, as values (e.g. ``{"V": standard(O(5))}``) or functions
            (e.g. ``{"T": tensor_power}``); they shadow nothing of symml's vocabulary.

    Example:
        >>> parse_rep("2 * irrep(Dihedral(4), (1, 1)) + regular(Dihedral(4))").dim
        12
        >>> from symml.groups import O
        >>> from symml.reps import standard
        >>> parse_rep("2 * V + tensor(V, V)", names={"V": standard(O(3))}).dim
        15
    """
    extra = dict(names or {})
    clash = sorted(set(extra) & set(_NAMES))
    if clash:
        raise ValueError(f"parse_rep: names {clash} are symml's own; choose other names")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ValueError(
            f"parse_rep: {text!r} is not a representation expression: {err.msg}"
        ) from err
    value = _eval(tree.body, text, {**_NAMES, **extra})
    if not isinstance(value, Rep):
        raise ValueError(f"parse_rep: {text!r} describes a {type(value).__name__}, not a Rep")
    return value


def _eval(node: ast.AST, text: str, vocabulary: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, text, vocabulary)
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_eval(e, text, vocabulary) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = _eval(node.left, text, vocabulary), _eval(node.right, text, vocabulary)
        if isinstance(node.op, ast.Mult):
            count = left if isinstance(left, int) else right
            if isinstance(count, int) and count > _MAX_COPIES:
                raise ValueError(
                    f"parse_rep: {count} copies in {text!r}; at most {_MAX_COPIES} are accepted"
                )
        try:
            return left + right if isinstance(node.op, ast.Add) else left * right
        except TypeError as err:
            raise ValueError(f"parse_rep: cannot evaluate {ast.unparse(node)!r}: {err}") from err
    if isinstance(node, ast.Name) and node.id in vocabulary and node.id not in _NAMES:
        return vocabulary[node.id]  # a value the caller named, e.g. V = standard(O(5))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in vocabulary
        and not isinstance(vocabulary[node.func.id], Rep)  # reps are callable, not functions
    ):
        if any(k.arg is None for k in node.keywords):  # `**mapping`: never evaluated, so reject
            raise ValueError(
                f"parse_rep: cannot read {ast.unparse(node)!r} in {text!r}; expected keyword "
                "arguments as name=value, not **mapping"
            )
        args = [_eval(a, text, vocabulary) for a in node.args]
        kwargs = {
            k.arg: _eval(k.value, text, vocabulary) for k in node.keywords if k.arg is not None
        }
        try:
            return vocabulary[node.func.id](*args, **kwargs)
        except TypeError as err:
            raise ValueError(f"parse_rep: cannot evaluate {ast.unparse(node)!r}: {err}") from err
    known = ", ".join(sorted(vocabulary))
    raise ValueError(
        f"parse_rep: cannot read {ast.unparse(node)!r} in {text!r}; expected numbers, tuples, "
        f"+, * and calls of: {known}"
    )
