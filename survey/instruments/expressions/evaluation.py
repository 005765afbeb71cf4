"""Evaluation of a syntax tree in a context: operators, comparisons, calls, predicates and
instance() look-ups."""

from __future__ import annotations

import math
import operator
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

from survey.instruments.expressions.functions import _FUNCTIONS, _js_int, _now, _pulldata, _uuid
from survey.instruments.expressions.syntax import (
    _COMPARISONS,
    _CONTEXT_FUNCTIONS,
    _NAN,
    _XPATH_WS,
    BinOp,
    Call,
    Child,
    Column,
    Current,
    Filter,
    Instance,
    LastSaved,
    Neg,
    Node,
    NodeSet,
    Num,
    Position,
    Ref,
    Str,
)
from survey.instruments.expressions.values import (
    DateTime,
    EvalContext,
    _norm,
    _parse_date,
    _parse_datetime,
    to_boolean,
    to_number,
    to_string,
)

# -- evaluation -----------------------------------------------------------------------------


def evaluate(node: Node, context: EvalContext) -> object:
    """Evaluate an AST: a str, float, bool, date or NodeSet. Bad data gives NaN or ""."""
    return _eval(node, context)


def evaluate_bool(node: Node, context: EvalContext) -> bool:
    """Evaluate as a relevant/constraint condition: boolean() of the result."""
    return to_boolean(_eval(node, context))


def _eval(node: Node, ctx: EvalContext) -> object:
    if isinstance(node, BinOp):
        op = node.op
        if op == "and":
            return to_boolean(_eval(node.left, ctx)) and to_boolean(_eval(node.right, ctx))
        if op == "or":
            return to_boolean(_eval(node.left, ctx)) or to_boolean(_eval(node.right, ctx))
        left, right = _eval(node.left, ctx), _eval(node.right, ctx)
        if op in _COMPARISONS:
            return _compare(op, left, right)
        return _arithmetic(op, to_number(left), to_number(right))
    if isinstance(node, Num | Str):
        return node.value
    if isinstance(node, Ref):
        return _norm(ctx.lookup(node.name))
    if isinstance(node, LastSaved):
        return _norm(ctx.last_saved(node.name) if ctx.last_saved else None)
    if isinstance(node, Call):
        return _call(node, ctx)
    if isinstance(node, Neg):
        return -to_number(_eval(node.operand, ctx))
    if isinstance(node, Current):
        return _norm(ctx.focus[0] if ctx.focus else ctx.current)
    if isinstance(node, Column):
        return _norm((ctx.choice or {}).get(node.name))
    if isinstance(node, Filter):
        base = _eval(node.base, ctx)
        return _filter(base if isinstance(base, NodeSet) else (base,), node.predicate, ctx)
    if isinstance(node, Instance):
        return _instance(node, ctx)
    if isinstance(node, Position):
        return float(ctx.position)
    if isinstance(node, Child):
        return NodeSet()
    raise TypeError(f"Not an expression node: {node!r}")


def _arithmetic(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "div":
        if y == 0:  # IEEE division by (signed) zero, which Python refuses
            if x == 0 or math.isnan(x):
                return _NAN
            return math.copysign(math.inf, x) * math.copysign(1.0, y)
        return x / y
    # mod: JavaScript '%' (truncated, sign of the dividend); math.fmod raises where JS gives NaN.
    if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
        return _NAN
    return x if math.isinf(y) else math.fmod(x, y)


_RELATIONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def _compare(op: str, a: object, b: object) -> bool:
    a_set, b_set = isinstance(a, NodeSet), isinstance(b, NodeSet)
    if not (a_set or b_set):
        return _compare_one(op, a, b)
    if isinstance(a, bool) or isinstance(b, bool):  # XPath: node-set vs boolean uses boolean()
        return _compare_one(op, to_boolean(a), to_boolean(b))
    xs = a if isinstance(a, NodeSet) else (a,)
    ys = b if isinstance(b, NodeSet) else (b,)
    return any(_compare_one(op, x, y) for x in xs for y in ys)


_NUMERIC = (float, int, date, DateTime)


def _compare_one(op: str, a: object, b: object) -> bool:
    # Like ODK, a date compared with a 'YYYY-MM-DD' string compares as dates.
    if isinstance(a, date) and isinstance(b, str):
        b = _parse_date(b) or b
    elif isinstance(b, date) and isinstance(a, str):
        a = _parse_date(a) or a
    elif isinstance(a, DateTime) and isinstance(b, str):
        b = _parse_datetime(b) or b
    elif isinstance(b, DateTime) and isinstance(a, str):
        a = _parse_datetime(a) or a
    if op not in {"=", "!="}:
        return _RELATIONS[op](to_number(a), to_number(b))
    if isinstance(a, bool) or isinstance(b, bool):
        equal = to_boolean(a) == to_boolean(b)
    elif isinstance(a, _NUMERIC) or isinstance(b, _NUMERIC):
        equal = to_number(a) == to_number(b)
    else:
        equal = to_string(a) == to_string(b)
    return equal if op == "=" else not equal


def _call(node: Call, ctx: EvalContext) -> object:
    name, args = node.name, node.args
    if name not in _CONTEXT_FUNCTIONS:
        return _FUNCTIONS[name](*(_eval(a, ctx) for a in args))
    if name == "if":
        return _eval(args[1] if to_boolean(_eval(args[0], ctx)) else args[2], ctx)
    if name == "coalesce":
        first = _eval(args[0], ctx)
        return first if to_string(first) != "" else _eval(args[1], ctx)
    if name == "once":  # the answer it already has is kept: once(uuid()) stays the same
        current = _norm(ctx.current)
        return current if to_string(current) != "" else _eval(args[0], ctx)
    if name == "today":
        return ctx.today or date.today()
    if name == "pulldata":
        return _pulldata(ctx, *(_eval(a, ctx) for a in args))
    if name == "now":
        return ctx.now or _now()
    if name == "current":
        return _norm(ctx.current)
    if name == "position":
        return float(ctx.focus[1] if ctx.focus else 1)
    if name == "last":
        return float(ctx.focus[2] if ctx.focus else 1)
    if name == "uuid":
        return _uuid(_eval(args[0], ctx) if args else None)
    if name == "random":
        return secrets.randbits(53) / (1 << 53)
    if name == "jr:choice-name":
        code = to_string(_eval(args[0], ctx)).strip(_XPATH_WS)
        question = args[1].value if isinstance(args[1], Str) else ""
        label = ctx.choice_label(question, code) if ctx.choice_label and code else None
        return label or ""
    # indexed-repeat(${q}, ${repeat}, n): q in the repeat's nth entry; over nested repeats
    # the pairs before the last choose the outer entries: (repeat name, number) each.
    assert isinstance(args[0], Ref)
    index = _js_int(math.trunc, to_number(_eval(args[-1], ctx)))
    outer = [
        (repeat.name, _js_int(math.trunc, to_number(_eval(number, ctx))))
        for repeat, number in zip(args[1:-2:2], args[2:-2:2], strict=True)
        if isinstance(repeat, Ref)
    ]
    if ctx.entries is not None:
        values: Sequence[object] = (
            ctx.entries(args[0].name, outer) if outer else ctx.entries(args[0].name)
        )
    else:
        found = ctx.lookup(args[0].name)
        values = found if isinstance(found, NodeSet) else (found,)
    return _norm(values[int(index) - 1]) if 1 <= index <= len(values) else ""


def _filter(values: Sequence[object], predicate: Node, ctx: EvalContext) -> NodeSet:
    kept = []
    for i, value in enumerate(values):
        result = _eval(predicate, replace(ctx, focus=(value, i + 1, len(values))))
        # XPath: a number in a predicate selects by position, as in ${a}[2].
        keep = result == i + 1 if isinstance(result, float) else to_boolean(result)
        if keep:
            kept.append(value)
    return NodeSet(kept)


def _instance(node: Instance, ctx: EvalContext) -> NodeSet:
    rows = list(ctx.choice_rows(node.list_name)) if ctx.choice_rows else []
    for predicate in node.predicates:
        kept = []
        for i, row in enumerate(rows):
            inner = replace(ctx, choice=row, focus=(row.get("name", ""), i + 1, len(rows)))
            result = _eval(predicate, inner)
            if result == i + 1 if isinstance(result, float) else to_boolean(result):
                kept.append(row)
        rows = kept
    field = node.field or "name"
    return NodeSet(row.get(field) or "" for row in rows)
