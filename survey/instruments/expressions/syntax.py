"""The expressions' syntax tree, its errors and the tokenizer."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

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
class LastSaved(Node):
    """${last-saved#name}: the answer to name in the last interview saved (ODK's last-saved
    instance; for the web form, the volunteer's last stored interview of the same form)."""

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


@dataclass(frozen=True, slots=True)
class Filter(Node):
    """A predicate, as in ${age}[. >= 18]: the values of base for which predicate holds."""

    base: Node
    predicate: Node


@dataclass(frozen=True, slots=True)
class Instance(Node):
    """instance('list')/root/item[predicate]/field: a column of the rows of a choice list."""

    list_name: str
    predicates: tuple[Node, ...]
    field: str | None


@dataclass(frozen=True, slots=True)
class Position(Node):
    """position(..): the 1-based number of the repeat entry the expression runs in."""


@dataclass(frozen=True, slots=True)
class Child(Node):
    """A bare name such as FALSE or age: to ODK a child of the question's node, which has none,
    so an empty node-set (false, "", NaN). The importer warns: ${age} was probably meant."""

    name: str


# (min, max) arguments; max None means variadic.
_ARITY: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2), "count-selected": (1, 1), "selected-at": (2, 2), "regex": (2, 2),
    "not": (1, 1), "if": (3, 3), "coalesce": (2, 2), "concat": (1, None),
    "string-length": (1, 1), "int": (1, 1), "number": (0, 1), "round": (1, 2), "today": (0, 0),
    "date": (1, 1), "true": (0, 0), "false": (0, 0), "string": (0, 1), "boolean": (1, 1),
    "contains": (2, 2), "starts-with": (2, 2), "ends-with": (2, 2), "substr": (2, 3),
    "floor": (1, 1), "ceiling": (1, 1), "abs": (1, 1), "count": (1, 1), "sum": (1, 1),
    "min": (1, None), "max": (1, None), "normalize-space": (0, 1),
    "pow": (2, 2), "sqrt": (1, 1), "exp": (1, 1), "exp10": (1, 1), "log": (1, 1),
    "log10": (1, 1), "sin": (1, 1), "cos": (1, 1), "tan": (1, 1), "asin": (1, 1),
    "acos": (1, 1), "atan": (1, 1), "atan2": (2, 2), "pi": (0, 0),
    "substring-before": (2, 2), "substring-after": (2, 2), "translate": (3, 3),
    "boolean-from-string": (1, 1), "join": (2, None), "count-non-empty": (1, 1),
    "uuid": (0, 1), "random": (0, 0), "once": (1, 1), "current": (0, 0), "position": (0, 0),
    "last": (0, 0), "indexed-repeat": (3, None), "jr:choice-name": (2, 2), "now": (0, 0),
    "format-date": (2, 2), "format-date-time": (2, 2), "date-time": (1, 1),
    "decimal-date-time": (1, 1), "distance": (1, None), "area": (1, 1), "digest": (2, 3),
    "checklist": (2, None), "weighted-checklist": (2, None), "base64-decode": (1, 1),
}  # fmt: skip
# pulldata('file', 'column', 'key column', key): a look-up in a CSV attachment of the form.
_ARITY["pulldata"] = (4, 4)
# randomize(node-set, seed?): the node-set shuffled; decimal-time(time): the fraction of a day.
_ARITY.update({"randomize": (1, 2), "decimal-time": (1, 1)})
# Called without an argument, these read the context node '.', as in XPath 1.0.
_DOT_DEFAULT = frozenset({"string", "number", "normalize-space"})
# Functions of ODK's list that are refused at import, with the reason.
_REFUSED_FUNCTIONS = {
    "extract-signed": (
        "extract-signed() at position {pos} is not supported: checking the signature of a "
        "signed value needs a public-key check in the browser and on the server that Birge "
        "does not have; remove it or compute the value before import"
    ),
}
# Functions whose result depends on more than their arguments' values.
_CONTEXT_FUNCTIONS = frozenset(
    {"if", "coalesce", "today", "now", "once", "current", "position", "last", "indexed-repeat",
     "jr:choice-name", "uuid", "random", "pulldata"}
)  # fmt: skip
# Prefixed names ODK defines that Birge evaluates.
_PREFIXED = frozenset({"jr:choice-name", "jr:itext"})
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
    r"|(?P<ref>\$\{[^}]*\})|(?P<op>!=|<=|>=|[=<>+*-])|(?P<bad>//|\$\{|[|@!$'\"])"
    r"|(?P<punct>\.\.|[(),./\[\]])"
)
_BAD = {
    "//": "'//' paths are not supported",
    "${": "Missing '}' after '${'",
    "|": "The union operator '|' is not supported",
    "@": "Attributes ('@') are not supported",
    "!": "Unexpected '!': use '!=' for 'not equal' or not() to negate",
    "$": "XPath variables such as '$x' are not supported; use ${name} to refer to a question",
    "'": "Unterminated string: missing closing '",
    '"': 'Unterminated string: missing closing "',
}
_LAST_SAVED = "${last-saved#"
# After these tokens an operand is expected, so '*' and and/or/div/mod are names (XPath 3.7).
_OPERAND_NEXT = frozenset({"", "op", "(", ",", "/", "["})


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
                if qname in _PREFIXED:
                    tokens.append(_Token("name", qname, i))
                    i += len(qname)
                    continue
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
        if kind == "ref" and value.startswith(_LAST_SAVED):
            kind = "last"
        name_at = len(_LAST_SAVED) if kind == "last" else 2
        if kind in {"ref", "last"} and not (
            _name_start(value[name_at : name_at + 1] or "}")
            and _name_end(value, name_at) == len(value) - 1
        ):
            raise ExpressionError(f"'{value}' at position {i} is not a valid name", i)
        if value == "*" and prev in _OPERAND_NEXT:
            raise ExpressionError(f"The wildcard '*' at position {i} is not supported", i)
        if kind in {"str", "ref", "last"}:
            value = value[1:-1] if kind == "str" else value[name_at:-1]
        if kind != "space":
            tokens.append(_Token(value if kind == "punct" else kind, value, i))
        i = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens
