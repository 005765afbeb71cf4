"""XLSForm expression engine: a safe XPath 1.0 subset, parsed and evaluated without eval().

The server parses expression text once; the browser (static/js/expressions.js) evaluates the
same AST, sent as JSON, with identical semantics.

JSON AST (``to_json``)::

    {"t": "num", "v": 1.5}                     number literal (never negative; see "neg")
    {"t": "str", "v": "a"}                     string literal
    {"t": "ref", "n": "age"}                   ${age}, ../age or /data/group/age
    {"t": "cur"}                               '.', the current question's value
    {"t": "col", "n": "region"}                choice-sheet column (choice_filter only)
    {"t": "op", "o": "+", "a": {...}, "b": {...}}   o: or and = != < <= > >= + - * div mod
    {"t": "neg", "a": {...}}                   unary minus
    {"t": "fn", "f": "selected", "x": [...]}   function call

Value JSON (``value_to_json``/``value_from_json``, shared with the JS and its tests)::

    null | "text" | true | 1.5 | {"num": "NaN" | "Infinity" | "-Infinity"}
    {"date": "YYYY-MM-DD"} | ["code", ...] (select_multiple) | {"nodeset": [value, ...]}

Semantics chosen where XPath/ODK leave room (both implementations follow them):

- Unanswered (None) behaves as ""; ints become floats; a select_multiple list becomes its
  space-separated codes.
- Numbers print like JavaScript's String(n); strings convert to numbers only in XPath syntax.
- A date compared with a 'YYYY-MM-DD' string compares as dates; dates are days since 1970-01-01
  in arithmetic, so date - date gives days.
- round(x) is floor(x + 0.5); round(x, d) is floor(x * 10^d + 0.5) / 10^d, or
  floor(x / 10^-d + 0.5) * 10^-d for negative d (d truncated, clamped to +-308; x itself if
  x * 10^d overflows). int() truncates toward zero; floor/ceiling/int keep JavaScript's -0.
- substr(s, start[, end]) uses 0-based code-point indexes, end exclusive; negative indexes count
  from the end. date() of an invalid value is "". concat() joins every value of a node-set.
- sum() of a node-set containing an empty value is NaN, as in XPath. selected() and friends
  split on XPath whitespace and treat a node-set as all its values' codes together.
- A node-set compared with a boolean compares boolean(node-set); otherwise comparisons with a
  node-set are true if true for any of its values (XPath).
- regex() accepts the subset of JavaScript 'u'-mode patterns that RE2 runs with the same meaning
  (no lookaheads or back-references, repetitions up to 1000); other patterns are refused at
  import when literal and never match otherwise. Patterns run on RE2 (google-re2), whose time is
  linear in the input: an admin's '^(a|aa)+$' cannot stall a worker with a crafted answer.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import re2

MAX_DEPTH = 200  # tree depth; keeps recursive evaluation far from Python's recursion limit
_MAX_NESTING = 64  # parentheses, calls and unary minus nested inside each other
_NAN = math.nan
_EPOCH = date(1970, 1, 1).toordinal()
_XPATH_WS = " \t\r\n"


class ExpressionError(ValueError):
    """A user-facing error; str(e) is a readable English sentence (shown to admins at import)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class NodeSet(tuple):
    """The values of a question inside a repeat, referenced from outside it (an XPath node-set)."""

    __slots__ = ()


# -- AST ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """Base class of the AST; frozen and hashable so parsed expressions can be cached."""


@dataclass(frozen=True, slots=True)
class Num(Node):
    value: float


@dataclass(frozen=True, slots=True)
class Str(Node):
    value: str


@dataclass(frozen=True, slots=True)
class Ref(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Current(Node):
    """'.', the value of the question the expression belongs to."""


@dataclass(frozen=True, slots=True)
class Column(Node):  # a column of the choice row being filtered (choice_filter only)
    name: str


@dataclass(frozen=True, slots=True)
class BinOp(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


# (min, max) arguments; max None means variadic.
_ARITY: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2), "count-selected": (1, 1), "selected-at": (2, 2), "regex": (2, 2),
    "not": (1, 1), "if": (3, 3), "coalesce": (2, 2), "concat": (1, None),
    "string-length": (1, 1), "int": (1, 1), "number": (1, 1), "round": (1, 2), "today": (0, 0),
    "date": (1, 1), "true": (0, 0), "false": (0, 0), "string": (1, 1), "boolean": (1, 1),
    "contains": (2, 2), "starts-with": (2, 2), "ends-with": (2, 2), "substr": (2, 3),
    "floor": (1, 1), "ceiling": (1, 1), "abs": (1, 1), "count": (1, 1), "sum": (1, 1),
    "min": (1, None), "max": (1, None), "normalize-space": (1, 1),
}  # fmt: skip
# pulldata('file', 'column', 'key column', key): a look-up in a CSV attachment of the form.
_ARITY["pulldata"] = (4, 4)
_PRECEDENCE = {
    "or": 1, "and": 2, "=": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5, "*": 6, "div": 6, "mod": 6,
}  # fmt: skip
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})

# -- tokenizer ------------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_NAME_START = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_NAME_MORE = _NAME_START | {"Nd", "Mn", "Mc", "Pc"}
# Everything but names; "bad" catches what XPath has and we refuse, before "punct" takes '/'.
_TOKEN = re.compile(
    r"(?P<space>[ \t\r\n]+)|(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<ref>\$\{[^}]*\})|(?P<op>!=|<=|>=|[=<>+*-])|(?P<bad>//|\$\{|[|\[\]@!$'\"])"
    r"|(?P<punct>\.\.|[(),./])"
)
_BAD = {
    "//": "'//' paths are not supported",
    "${": "Missing '}' after '${'",
    "|": "The union operator '|' is not supported",
    "[": "Predicates such as '[1]' are not supported",
    "]": "Predicates such as '[1]' are not supported",
    "@": "Attributes ('@') are not supported",
    "!": "Unexpected '!': use '!=' for 'not equal' or not() to negate",
    "$": "XPath variables such as '$x' are not supported; use ${name} to refer to a question",
    "'": "Unterminated string: missing closing '",
    '"': 'Unterminated string: missing closing "',
}
# After these tokens an operand is expected, so '*' and and/or/div/mod are names (XPath 3.7).
_OPERAND_NEXT = frozenset({"", "op", "(", ",", "/"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num str ref name op ( ) , . .. / end
    text: str
    pos: int


def _name_start(ch: str) -> bool:
    return ch == "_" or unicodedata.category(ch) in _NAME_START


def _name_end(text: str, i: int) -> int:
    """The end of the XML NCName starting at text[i]."""
    i += 1
    while i < len(text) and (text[i] in "_-.\u00b7" or unicodedata.category(text[i]) in _NAME_MORE):
        i += 1
    return i


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        prev = tokens[-1].kind if tokens else ""
        if _name_start(text[i]):
            end = _name_end(text, i)
            if text.startswith("::", end):
                raise ExpressionError(
                    f"Axes such as '{text[i:end]}::' are not supported (position {i})", i
                )
            if text.startswith(":", end) and end + 1 < len(text) and _name_start(text[end + 1]):
                qname = text[i : _name_end(text, end + 1)]
                raise ExpressionError(
                    f"Names with a prefix such as '{qname}' are not supported (position {i})", i
                )
            operator = text[i:end] in {"and", "or", "div", "mod"} and prev not in _OPERAND_NEXT
            tokens.append(_Token("op" if operator else "name", text[i:end], i))
            i = end
            continue
        match = _TOKEN.match(text, i)
        if match is None:
            raise ExpressionError(f"Unexpected character {text[i]!r} at position {i}", i)
        kind, value = match.lastgroup or "", match.group()
        if kind == "bad":
            raise ExpressionError(f"{_BAD[value]} (position {i})", i)
        if kind == "num" and math.isinf(float(value)):
            raise ExpressionError(f"The number at position {i} is too large", i)
        if kind == "ref" and not (_name_start(value[2]) and _name_end(value, 2) == len(value) - 1):
            raise ExpressionError(f"'{value}' at position {i} is not a valid name", i)
        if value == "*" and prev in _OPERAND_NEXT:
            raise ExpressionError(f"The wildcard '*' at position {i} is not supported", i)
        if kind in {"str", "ref"}:
            value = value[1:-1] if kind == "str" else value[2:-1]
        if kind != "space":
            tokens.append(_Token(value if kind == "punct" else kind, value, i))
        i = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# -- parser ---------------------------------------------------------------------------------


def _describe(token: _Token) -> str:
    kinds = {"num": "number {}", "str": "string '{}'", "ref": "'${{{}}}'", "name": "name '{}'"}
    return kinds.get(token.kind, "'{}'").format(token.text)


class _Parser:
    def __init__(self, text: str, choice_filter: bool) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.choice_filter = choice_filter
        self.nesting = 0

    def peek(self, kind: str) -> bool:
        return self.tokens[self.i].kind == kind

    def take(self) -> _Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def fail(self, expected: str) -> ExpressionError:
        token = self.tokens[self.i]
        if token.kind == "end":
            return ExpressionError(f"Unexpected end of expression: {expected}", token.pos)
        where = f"Unexpected {_describe(token)} at position {token.pos}"
        return ExpressionError(f"{where}: {expected}", token.pos)

    def enter(self, token: _Token) -> None:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise ExpressionError(f"Nested too deeply at position {token.pos}", token.pos)

    def close(self, expected: str = "expected an operator or ')'") -> None:
        if not self.peek(")"):
            raise self.fail("missing ')'" if self.peek("end") else expected)
        self.take()
        self.nesting -= 1

    def whole(self) -> Node:
        if self.peek("end"):
            raise ExpressionError("The expression is empty", 0)
        node = self.expression(1)
        if not self.peek("end"):
            raise self.fail("use 'div' to divide" if self.peek("/") else "expected an operator")
        return node

    def expression(self, min_precedence: int) -> Node:
        # Precedence climbing; the recursive call with precedence + 1 makes operators left-assoc.
        left = self.unary()
        while self.peek("op") and _PRECEDENCE[self.tokens[self.i].text] >= min_precedence:
            op = self.take().text
            left = BinOp(op, left, self.expression(_PRECEDENCE[op] + 1))
        return left

    def unary(self) -> Node:
        if not (self.peek("op") and self.tokens[self.i].text == "-"):
            return self.primary()
        self.enter(self.take())
        node = Neg(self.unary())
        self.nesting -= 1
        return node

    def primary(self) -> Node:
        token = self.tokens[self.i]
        kind, text, pos = token.kind, token.text, token.pos
        if kind not in {"num", "str", "ref", "(", ".", "..", "/", "name"}:
            raise self.fail("expected a value")
        self.take()
        if kind == "(":
            self.enter(token)
            node = self.expression(1)
            self.close()
            return node
        if kind in {"..", "/"}:
            return self.path(token)
        if kind in {".", "name"} and self.peek("/"):
            hint = "" if kind == "." else "; use ${name} to refer to a question"
            raise ExpressionError(
                f"Relative paths such as '{text}/…' are not supported (position {pos}){hint}", pos
            )
        if kind == "name" and self.peek("("):
            return self.call(token)
        if kind == "name" and not self.choice_filter:
            raise ExpressionError(
                f"Bare name '{text}' at position {pos}: use ${{{text}}} to refer to a question", pos
            )
        constructors = {"num": lambda t: Num(float(t)), "str": Str, "ref": Ref, "name": Column}
        return constructors[kind](text) if kind != "." else Current()

    def path(self, first: _Token) -> Node:
        # '../a', '../../g/a' and '/data/g/a' all refer to the question named by the last step.
        step = first.text
        while step == "/" or self.peek("/"):
            if step != "/":
                self.take()  # the '/' between two steps
            if not (self.peek("name") or self.peek("..")):
                raise self.fail("expected a question name after '/'")
            step = self.take().text
        if step == "..":
            raise ExpressionError(
                f"The path at position {first.pos} must end with a question name, as in '../a'",
                first.pos,
            )
        return Ref(step)

    def call(self, name_token: _Token) -> Node:
        name, pos = name_token.text, name_token.pos
        if name not in _ARITY:
            hint = f"; did you mean '{name.lower()}()'?" if name.lower() in _ARITY else ""
            raise ExpressionError(f"Unknown function '{name}()' at position {pos}{hint}", pos)
        self.enter(self.take())
        args: list[Node] = []
        while not self.peek(")") and (not args or self.peek(",")):
            if args:
                self.take()
            args.append(self.expression(1))
        self.close("expected ',' or ')'")
        low, high = _ARITY[name]
        if not low <= len(args) <= (len(args) if high is None else high):
            raise ExpressionError(
                f"Function '{name}()' at position {pos} takes {_arity_text(low, high)}, "
                f"but was given {len(args)}",
                pos,
            )
        if name == "regex" and isinstance(args[1], Str):
            try:
                _compile_regex(args[1].value)
            except ValueError as error:
                raise ExpressionError(
                    f"Unsupported regular expression '{args[1].value}' in regex() at position "
                    f"{pos}: {error}",
                    pos,
                ) from None
        return Call(name, tuple(args))


def _arity_text(low: int, high: int | None) -> str:
    def plural(k: int) -> str:
        return f"{k} argument" + ("" if k == 1 else "s")

    if high is None:
        return f"at least {plural(low)}"
    if low == high:
        return "no arguments" if low == 0 else f"exactly {plural(low)}"
    return f"{low} or {plural(high)}"


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def _walk(node: Node) -> Iterator[tuple[Node, int]]:
    """Every node with its depth, without recursion."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        yield current, depth
        stack.extend((child, depth + 1) for child in _children(current))


def parse(text: str, *, choice_filter: bool = False) -> Node:
    """Parse expression text into an AST; raise ExpressionError with a readable message."""
    return _parse(text, choice_filter)


@functools.lru_cache(maxsize=4096)
def _parse(text: str, choice_filter: bool) -> Node:
    node = _Parser(text, choice_filter).whole()
    if max(depth for _, depth in _walk(node)) > MAX_DEPTH:
        raise ExpressionError(
            f"The expression is too long or too deeply nested (over {MAX_DEPTH} levels)", 0
        )
    return node


def references(node: Node) -> frozenset[str]:
    """Names of the questions the expression refers to."""
    return frozenset(n.name for n, _ in _walk(node) if isinstance(n, Ref))


def uses_current(node: Node) -> bool:
    """Whether the expression uses '.'."""
    return any(isinstance(n, Current) for n, _ in _walk(node))


def to_json(node: Node) -> dict:
    """The AST as JSON-serialisable dicts (format in the module docstring)."""
    if isinstance(node, Num):
        return {"t": "num", "v": node.value}
    if isinstance(node, Str):
        return {"t": "str", "v": node.value}
    if isinstance(node, Ref):
        return {"t": "ref", "n": node.name}
    if isinstance(node, Current):
        return {"t": "cur"}
    if isinstance(node, Column):
        return {"t": "col", "n": node.name}
    if isinstance(node, BinOp):
        return {"t": "op", "o": node.op, "a": to_json(node.left), "b": to_json(node.right)}
    if isinstance(node, Neg):
        return {"t": "neg", "a": to_json(node.operand)}
    if isinstance(node, Call):
        return {"t": "fn", "f": node.name, "x": [to_json(a) for a in node.args]}
    raise TypeError(f"Not an expression node: {node!r}")


# -- values and conversions -----------------------------------------------------------------


@dataclass
class EvalContext:
    """Where an expression finds its inputs."""

    lookup: Callable[[str], object]
    current: object = None
    choice: Mapping[str, str] | None = None
    today: date | None = None
    # The form's CSV attachments for pulldata(), by file name without '.csv'.
    tables: Mapping[str, Sequence[Mapping[str, str]]] | None = None


def _format_number(x: float) -> str:
    # ECMAScript Number::toString, so the server prints numbers exactly like the browser.
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    digits = all_digits.lstrip("0")
    n = len(whole) - (len(all_digits) - len(digits)) + int(exponent or 0)
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-")
        text += str(abs(e))
    return ("-" if x < 0 else "") + text


def to_string(value: object) -> str:
    """XPath string(): numbers as in JavaScript, dates as ISO, lists space-separated."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_number(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, NodeSet):
        return to_string(value[0]) if value else ""
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    raise TypeError(f"Unsupported expression value: {value!r}")


_NUMBER_TEXT = re.compile(r"[ \t\r\n]*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[ \t\r\n]*")


def to_number(value: object) -> float:
    """XPath number(): NaN for anything not in XPath number syntax; dates as days since 1970."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if value is None:
        return _NAN
    if isinstance(value, str):
        return float(value) if _NUMBER_TEXT.fullmatch(value) else _NAN
    if isinstance(value, date):
        return float(value.toordinal() - _EPOCH)
    if isinstance(value, NodeSet):
        return to_number(value[0]) if value else _NAN
    if isinstance(value, list | tuple):
        return to_number(to_string(value))
    raise TypeError(f"Unsupported expression value: {value!r}")


def to_boolean(value: object) -> bool:
    """XPath boolean(): false for 0, NaN, "", empty lists and node-sets, and unanswered."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    if value is None:
        return False
    if isinstance(value, date):
        return True
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    raise TypeError(f"Unsupported expression value: {value!r}")


def _norm(value: object) -> object:
    """A looked-up value in the evaluator's domain: str, float, bool, date or NodeSet."""
    if value is None:
        return ""
    if isinstance(value, NodeSet):
        return NodeSet(_norm(v) for v in value)
    if isinstance(value, bool | str | date):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    raise TypeError(f"Unsupported expression value: {value!r}")


_DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _parse_date(text: str) -> date | None:
    match = _DATE_TEXT.fullmatch(text)
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def value_to_json(value: object) -> object:
    """Encode a value for the browser and the JS tests (format in the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"num": _format_number(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, NodeSet):
        return {"nodeset": [value_to_json(v) for v in value]}
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    raise TypeError(f"Unsupported expression value: {value!r}")


def value_from_json(data: object) -> object:
    """Decode value_to_json() output."""
    if isinstance(data, list):
        return [str(v) for v in data]
    if isinstance(data, dict):
        if "nodeset" in data:
            return NodeSet(value_from_json(v) for v in data["nodeset"])
        if "num" in data:
            return float(data["num"])
        parsed = _parse_date(data["date"])
        if parsed is None:
            raise ValueError(f"Invalid date {data['date']!r}")
        return parsed
    return data


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
    if isinstance(node, Call):
        return _call(node, ctx)
    if isinstance(node, Neg):
        return -to_number(_eval(node.operand, ctx))
    if isinstance(node, Current):
        return _norm(ctx.current)
    if isinstance(node, Column):
        return _norm((ctx.choice or {}).get(node.name))
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


def _compare_one(op: str, a: object, b: object) -> bool:
    # Like ODK, a date compared with a 'YYYY-MM-DD' string compares as dates.
    if isinstance(a, date) and isinstance(b, str):
        b = _parse_date(b) or b
    elif isinstance(b, date) and isinstance(a, str):
        a = _parse_date(a) or a
    if op not in {"=", "!="}:
        return _RELATIONS[op](to_number(a), to_number(b))
    if isinstance(a, bool) or isinstance(b, bool):
        equal = to_boolean(a) == to_boolean(b)
    elif isinstance(a, float | int | date) or isinstance(b, float | int | date):
        equal = to_number(a) == to_number(b)
    else:
        equal = to_string(a) == to_string(b)
    return equal if op == "=" else not equal


def _call(node: Call, ctx: EvalContext) -> object:
    name, args = node.name, node.args
    if name == "if":
        return _eval(args[1] if to_boolean(_eval(args[0], ctx)) else args[2], ctx)
    if name == "coalesce":
        first = _eval(args[0], ctx)
        return first if to_string(first) != "" else _eval(args[1], ctx)
    if name == "today":
        return ctx.today or date.today()
    if name == "pulldata":
        return _pulldata(ctx, *(_eval(a, ctx) for a in args))
    return _FUNCTIONS[name](*(_eval(a, ctx) for a in args))


def pulldata_files(node: Node) -> set[str]:
    """The files (without '.csv') that the pulldata() calls of an expression name literally."""
    return {
        n.args[0].value
        for n, _ in _walk(node)
        if isinstance(n, Call) and n.name == "pulldata" and isinstance(n.args[0], Str)
    }


def _pulldata(ctx: EvalContext, table: object, column: object, key: object, value: object) -> str:
    """The column of the first row whose key column equals the value, as ODK Collect reads it."""
    rows = (ctx.tables or {}).get(to_string(table).removesuffix(".csv"), ())
    wanted, key_column, column_name = to_string(value), to_string(key), to_string(column)
    for row in rows:
        if row.get(key_column) == wanted:
            return row.get(column_name, "")
    return ""


def _split_ws(text: str) -> list[str]:
    return [t for t in re.split(r"[ \t\r\n]+", text) if t]


def _tokens(value: object) -> list[str]:
    if isinstance(value, NodeSet):
        return [t for v in value for t in _split_ws(to_string(v))]
    return _split_ws(to_string(value))


def _selected_at(value: object, index: object) -> str:
    tokens, k = _tokens(value), _js_int(math.trunc, to_number(index))
    return tokens[int(k)] if math.isfinite(k) and 0 <= k < len(tokens) else ""


def _js_int(function: Callable[[float], int], x: float) -> float:
    """math.floor/ceil/trunc with JavaScript's signed zeros (Math.ceil(-0.5) is -0)."""
    return x if x == 0 or not math.isfinite(x) else math.copysign(float(function(x)), x)


def _round(value: object, digits: object = None) -> float:
    x = to_number(value)
    if digits is None:
        return _js_int(math.floor, x + 0.5) if math.isfinite(x) else x
    d = to_number(digits)
    if not math.isfinite(d):
        return _NAN
    d = max(-308, min(308, math.trunc(d)))
    if not math.isfinite(x):
        return x
    power = float(f"1e{abs(d)}")  # exact for |d| <= 22 and parsed like JS Number('1e' + d)
    if d < 0:
        return _js_int(math.floor, x / power + 0.5) * power
    scaled = x * power
    # With too many digits the scaled value overflows; the number is then returned as it is.
    return _js_int(math.floor, scaled + 0.5) / power if math.isfinite(scaled) else x


def _to_date(value: object) -> date | str:
    if isinstance(value, NodeSet):
        value = value[0] if value else ""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and (parsed := _parse_date(value)):
        return parsed
    x = to_number(value)
    if not math.isfinite(x) or not 1 <= _EPOCH + math.floor(x) <= date.max.toordinal():
        return ""
    return date.fromordinal(_EPOCH + math.floor(x))


def _substr(value: object, start: object, end: object = None) -> str:
    text = to_string(value)
    n = len(text)
    a, b = to_number(start), float(n) if end is None else to_number(end)
    if math.isnan(a) or math.isnan(b):
        return ""
    a, b = _js_int(math.trunc, a), _js_int(math.trunc, b)
    a, b = (a + n if a < 0 else a), (b + n if b < 0 else b)
    a, b = min(max(a, 0), n), min(max(b, 0), n)
    return text[int(a) : int(b)] if a < b else ""


def _sum(value: object) -> float:
    if not isinstance(value, NodeSet):
        return to_number(value)
    total = 0.0  # a plain loop: Python 3.12's sum() compensates rounding, JavaScript does not
    for v in value:
        total += to_number(v)
    return total


def _extreme(values: tuple[object, ...], better: Callable[[float, float], bool]) -> float:
    numbers = [to_number(v) for x in values for v in (x if isinstance(x, NodeSet) else (x,))]
    if not numbers or any(math.isnan(v) for v in numbers):
        return _NAN
    best = numbers[0]
    for v in numbers[1:]:
        if better(v, best):
            best = v
    return best


def _concat(*values: object) -> str:
    # ODK joins every value of a node-set, not just the first.
    return "".join(
        "".join(map(to_string, v)) if isinstance(v, NodeSet) else to_string(v) for v in values
    )


def _regex(value: object, pattern: object) -> bool:
    try:
        compiled = _compile_regex(to_string(pattern))
    except ValueError:
        return False
    return compiled.search(to_string(value)) is not None


_FUNCTIONS: dict[str, Callable[..., object]] = {
    "selected": lambda a, v: to_string(v).strip(_XPATH_WS) in _tokens(a),
    "count-selected": lambda a: float(len(_tokens(a))),
    "selected-at": _selected_at,
    "regex": _regex,
    "not": lambda x: not to_boolean(x),
    "concat": _concat,
    "string-length": lambda s: float(len(to_string(s))),
    "int": lambda x: _js_int(math.trunc, to_number(x)),
    "number": to_number,
    "round": _round,
    "date": _to_date,
    "true": lambda: True,
    "false": lambda: False,
    "string": to_string,
    "boolean": to_boolean,
    "contains": lambda a, b: to_string(b) in to_string(a),
    "starts-with": lambda a, b: to_string(a).startswith(to_string(b)),
    "ends-with": lambda a, b: to_string(a).endswith(to_string(b)),
    "substr": _substr,
    "floor": lambda x: _js_int(math.floor, to_number(x)),
    "ceiling": lambda x: _js_int(math.ceil, to_number(x)),
    "abs": lambda x: abs(to_number(x)),
    "count": lambda x: float(len(x)) if isinstance(x, NodeSet) else 1.0,
    "sum": _sum,
    "min": lambda *xs: _extreme(xs, operator.lt),
    "max": lambda *xs: _extreme(xs, operator.gt),
    "normalize-space": lambda s: " ".join(_split_ws(to_string(s))),
}

# -- regular expressions --------------------------------------------------------------------
# Patterns are JavaScript 'u'-mode syntax. Only a subset means the same in Python's re; it is
# translated here and checked identically by regexSupported() in expressions.js.

# RE2 syntax: \x{…} for code points beyond \xFF.
_JS_SPACE = (
    r"\t\n\x0b\x0c\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}"
    r"\x{3000}\x{feff}"
)
# RE2 refuses larger counted repetitions; JavaScript accepts them, so both refuse them here.
MAX_REPEAT = 1000
_QUANTIFIER = re.compile(r"\{([0-9]{1,4})(?:,([0-9]{0,4}))?\}")
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_SIMPLE_ESCAPES = {"t": 9, "n": 10, "v": 11, "f": 12, "r": 13}


def _escape(p: str, i: int, in_class: bool) -> tuple[str, int, int | None]:
    """Translate the escape after a backslash at p[i-1]: (python, next index, code point)."""
    c = p[i] if i < len(p) else ""
    if c in {"d", "D", "w", "W"}:
        return "\\" + c, i + 1, None
    if c == "s":
        return (_JS_SPACE if in_class else f"[{_JS_SPACE}]"), i + 1, None
    if c == "S" and not in_class:
        return f"[^{_JS_SPACE}]", i + 1, None
    if c == "b" and in_class:
        return "\\x08", i + 1, 8
    if c in _SIMPLE_ESCAPES:
        return "\\" + c, i + 1, _SIMPLE_ESCAPES[c]
    if c == "0" and p[i + 1 : i + 2] not in _DIGITS:
        return "\\x00", i + 1, 0
    width = {"x": 2, "u": 4}.get(c, 0)
    hex_digits = p[i + 1 : i + 1 + width]
    if (
        width
        and len(hex_digits) == width
        and all(h in "0123456789abcdefABCDEF" for h in hex_digits)
    ):
        code = int(hex_digits, 16)
        if 0xD800 <= code <= 0xDFFF:
            raise ValueError("surrogate escapes are not supported")
        return f"\\x{{{hex_digits}}}", i + 1 + width, code
    if c and (c in _SYNTAX or (in_class and c == "-")):
        return "\\" + c, i + 1, ord(c)
    raise ValueError(f"the escape '\\{c}' is not supported" if c else "it ends with '\\'")


def _class_atom(p: str, i: int) -> tuple[str, int, int | None]:
    if p[i] == "\\":
        return _escape(p, i + 1, True)
    c = p[i]
    return ("\\" + c if c in "[\\^-&~|" else c), i + 1, ord(c)


def _char_class(p: str, i: int) -> tuple[str, int]:
    out = ["["]
    if p.startswith("^", i):
        out.append("^")
        i += 1
    if p.startswith("]", i):
        raise ValueError("empty character classes are not supported")
    while i < len(p) and p[i] != "]":
        text, i, low = _class_atom(p, i)
        if p.startswith("-", i) and i + 1 < len(p) and p[i + 1] != "]":
            high_text, i, high = _class_atom(p, i + 1)
            if low is None or high is None:
                raise ValueError("a range cannot start or end with a class such as \\d")
            if low > high:
                raise ValueError("a character range is out of order")
            text += "-" + high_text
        out.append(text)
    if i >= len(p):
        raise ValueError("missing ']'")
    return "".join(out) + "]", i + 1


def _translate_regex(p: str) -> str:
    out: list[str] = []
    groups: list[bool] = []  # True for lookaheads, which JavaScript 'u' mode cannot repeat
    i, repeatable = 0, False
    while i < len(p):
        c = p[i]
        if c == "\\" and p[i + 1 : i + 2] in {"b", "B"}:
            out.append(p[i : i + 2])
            i, repeatable = i + 2, False
        elif c == "\\":
            text, i, _ = _escape(p, i + 1, False)
            out.append(text)
            repeatable = True
        elif c == "[":
            text, i = _char_class(p, i + 1)
            out.append(text)
            repeatable = True
        elif c in "*+?{":
            if not repeatable:
                raise ValueError(f"nothing to repeat before '{c}'")
            match = _QUANTIFIER.match(p, i) if c == "{" else None
            if c == "{" and match is None:
                raise ValueError("'{' must start a repetition such as {2} or {1,3}")
            if match and match.group(2) and int(match.group(2)) < int(match.group(1)):
                raise ValueError("a repetition range is out of order")
            if match and max(int(match.group(1)), int(match.group(2) or 0)) > MAX_REPEAT:
                raise ValueError(f"repetitions above {MAX_REPEAT} are not supported")
            text = match.group() if match else c
            i = match.end() if match else i + 1
            if p.startswith("?", i):
                text, i = text + "?", i + 1
            if i < len(p) and p[i] in "*+?{":
                raise ValueError("a repetition cannot be repeated")
            out.append(text)
            repeatable = False
        elif c == "(":
            kind = p[i + 2 : i + 3] if p.startswith("(?", i) else ""
            if p.startswith("(?", i) and kind not in {":"}:
                raise ValueError("only (…) and (?:…) groups are supported (no lookaheads)")
            groups.append(kind in {"=", "!"})
            out.append(p[i : i + 3] if kind else "(")
            i, repeatable = i + (3 if kind else 1), False
        elif c == ")":
            if not groups:
                raise ValueError("unbalanced ')'")
            out.append(")")
            i, repeatable = i + 1, not groups.pop()
        elif c in "]}":
            raise ValueError(f"'{c}' must be escaped")
        else:
            out.append({".": r"[^\n\r\x{2028}\x{2029}]", "$": r"\z"}.get(c, c))
            i, repeatable = i + 1, c not in "^$|"
    if groups:
        raise ValueError("missing ')'")
    return "".join(out)


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is reported to the admin, not to stderr
    options.max_mem = 8 << 20  # a pattern needing more is refused rather than run
    return options


_RE2_OPTIONS = _re2_options()


@functools.lru_cache(maxsize=512)
def _compile_regex(pattern: str) -> re2._Regexp:
    """Compile a JavaScript-syntax pattern for RE2; ValueError if outside the subset."""
    try:
        return re2.compile(_translate_regex(pattern), _RE2_OPTIONS)
    except re2.error as error:
        raise ValueError(str(error)) from None
