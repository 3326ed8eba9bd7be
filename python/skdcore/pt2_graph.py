"""Strings of a .pt2's JSON graph that torch evaluates as code when it loads the program.

``torch.export.load`` hands every symbolic shape's ``expr_str`` to ``sympy.sympify`` (Python ``eval``
underneath), ``exec``s the graph's ``guards_code`` into a function that runs on every call of the loaded
module, and resolves each node's ``target`` with ``getattr`` from ``torch`` (so any torch function can
be a node). :func:`check_program_graph` accepts only what torch writes for a plain skdcore program:
arithmetic on shape symbols and sizes, and operators of ``torch.ops`` (aten, prims, skdcore) and
``_operator`` / ``math``.
"""

from __future__ import annotations

import ast
import re

MAX_EXPRESSION_CHARS = 20_000
MAX_EXPRESSION_NODES = 2_000
MAX_EXPONENT = 64

_SYMPY_CALLS = frozenset(
    "Symbol Integer Rational Float Add Mul Pow Mod Min Max Abs Eq Ne Lt Le Gt Ge And Or Not "
    "StrictLessThan StrictGreaterThan LessThan GreaterThan Equality Unequality "
    "FloorDiv ModularIndexing Where PythonMod CleanDiv CeilToInt FloorToInt CeilDiv LShift RShift "
    "PowByNatural FloatPow FloatTrueDiv IntTrueDiv IsNonOverlappingAndDenseIndicator TruncToFloat "
    "TruncToInt RoundToInt RoundDecimal ToFloat Identity".split()
)
_SYMBOL_KEYWORDS = frozenset(
    "positive negative nonnegative nonpositive integer real finite nonzero zero commutative".split()
)
_NAMES = _SYMPY_CALLS | {"True", "False", "L", "math", "oo", "int_oo"}
_ATTRIBUTES = frozenset({"size", "stride", "storage_offset", "dim", "numel", "isnan", "isinf", "inf"})
_SYMBOL = re.compile(r"^[a-z]{1,8}[0-9]{1,9}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NODES = (
    ast.Expression, ast.Call, ast.Name, ast.Load, ast.Constant, ast.keyword, ast.BinOp, ast.UnaryOp,
    ast.Compare, ast.BoolOp, ast.Subscript, ast.Attribute, ast.Tuple,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd, ast.Not,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.And, ast.Or,
)
_TARGET = re.compile(
    r"^(torch\.ops\.(aten|prims|skdcore)\.[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?"
    r"|_operator\.[a-z][a-z_]*|math\.[a-z][a-z0-9_]*|torch\.sym_[a-z_]+)$"
)


def check_program_graph(graph: dict, where: str, error=ValueError) -> None:
    """Raise ``error`` naming ``where`` when the deserialized JSON graph holds an expression, guard or
    node target outside what a plain program needs."""
    guards = graph.get("guards_code") or []
    if not isinstance(guards, list):
        raise error(f"{where}: guards_code is not a list")
    for guard in guards:
        check_expression(guard, f"{where}: guard", error)
    _walk(graph, where, error, depth=0)


def check_expression(text, where: str, error=ValueError) -> None:
    """``text`` parses as arithmetic on shape symbols and sizes only (no other names, attributes or
    calls, no string but identifiers, small exponents)."""
    if not isinstance(text, str) or len(text) > MAX_EXPRESSION_CHARS:
        raise error(f"{where} is not a short expression string; refused")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise error(f"{where} {text[:80]!r} is not an expression; refused") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_EXPRESSION_NODES:
        raise error(f"{where} has more than {MAX_EXPRESSION_NODES} parts; refused")
    for node in nodes:
        reason = _refusal(node)
        if reason:
            raise error(f"{where} {text[:80]!r}: {reason}, which a plain program never holds (loading it "
                        "would run code from the file); refused")


def _refusal(node) -> str:
    if not isinstance(node, _NODES):
        return f"a {type(node).__name__}"
    if isinstance(node, ast.Name) and node.id not in _NAMES and not _SYMBOL.match(node.id):
        return f"the name {node.id!r}"
    if isinstance(node, ast.Attribute) and node.attr not in _ATTRIBUTES:
        return f"the attribute {node.attr!r}"
    if isinstance(node, ast.Call):
        func = node.func
        ok = (isinstance(func, ast.Name) and func.id in _SYMPY_CALLS) or (
            isinstance(func, ast.Attribute) and func.attr in _ATTRIBUTES
        )
        if not ok:
            return "a call of something other than a shape function"
    if isinstance(node, ast.keyword) and node.arg not in _SYMBOL_KEYWORDS:
        return f"the keyword {node.arg!r}"
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str) and not _IDENTIFIER.match(value):
            return "a string that is no identifier"
        if not isinstance(value, (str, int, float, bool, type(None))):
            return f"a {type(value).__name__} constant"
        if isinstance(value, int) and abs(value) >= 1 << 64:
            return "an integer beyond 64 bits"
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
        return "an index that is no constant"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        right = node.right
        small = isinstance(right, ast.Constant) and isinstance(right.value, int)
        if not (small and abs(right.value) <= MAX_EXPONENT):
            return f"a power beyond {MAX_EXPONENT}"
    return ""


def _walk(value, where: str, error, depth: int) -> None:
    if depth > 200:
        raise error(f"{where}: the graph is nested more than 200 levels deep; refused")
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "expr_str":
                check_expression(item, f"{where}: symbolic shape", error)
            elif key == "target" and "inputs" in value and "outputs" in value:
                if not isinstance(item, str) or "__" in item or not _TARGET.match(item):
                    raise error(f"{where}: node target {str(item)[:80]!r} is not an operator of torch.ops "
                                "(aten, prims, skdcore), _operator or math (loading it could call any "
                                "function); refused")
            else:
                _walk(item, where, error, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, where, error, depth + 1)
