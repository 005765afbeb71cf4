"""XLSForm expression engine: a safe XPath 1.0 subset, parsed and evaluated without eval().

The server parses expression text once; the browser (static/js/expressions.js) evaluates the
same AST, sent as JSON, with identical semantics.

JSON AST (``to_json``)::

    {"t": "num", "v": 1.5}                     number literal (never negative; see "neg")
    {"t": "str", "v": "a"}                     string literal
    {"t": "ref", "n": "age"}                   ${age}, ../age, ./age or /data/group/age
    {"t": "last", "n": "age"}                  ${last-saved#age}: age in the last saved entry
    {"t": "cur"}                               '.', the current question's value
    {"t": "col", "n": "region"}                choice-sheet column (choice_filter only)
    {"t": "op", "o": "+", "a": {...}, "b": {...}}   o: or and = != < <= > >= + - * div mod
    {"t": "neg", "a": {...}}                   unary minus
    {"t": "fn", "f": "selected", "x": [...]}   function call
    {"t": "filter", "a": {...}, "p": {...}}    predicate: ${age}[. >= 18]
    {"t": "inst", "l": "list", "p": [...], "f": "label"}   instance('list')/root/item[…]/label
    {"t": "pos"}                               position(..): the repeat entry's number
    {"t": "child", "n": "FALSE"}               a bare name: an empty node-set, as in ODK

Value JSON (``value_to_json``/``value_from_json``, shared with the JS and its tests)::

    null | "text" | true | 1.5 | {"num": "NaN" | "Infinity" | "-Infinity"}
    {"date": "YYYY-MM-DD"} | ["code", ...] (select_multiple) | {"nodeset": [value, ...]}
    {"datetime": [milliseconds since 1970 UTC, UTC offset in minutes]}

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
- In a predicate '.' is each value in turn, position() and last() its number and their count;
  a number selects by position. current() is always the question's own value.
- instance('list') reads the rows of a choice list (name, label in the page's language, other
  columns); jr:choice-name(code, '${q}') the label of q's choice; jr:itext(…/itextId) a label.
- indexed-repeat() reads any repeat level: the pairs before the last choose outer entries;
  position(..) is the innermost entry's number, 1 outside repeats.
- A dateTime prints as ISO 8601 with milliseconds and its offset; in arithmetic it is days since
  1970 (decimal-date-time()); date-time(n) is UTC. format-date() uses English month and day
  names. Math functions give JavaScript's NaN and Infinity where Python would raise.
- distance() and area() follow Enketo (a sphere of radius 6378100 m), rounded to centimetres.
- uuid(), random() and now() differ between calls; once(x) keeps the answer the question has.
- regex() accepts the subset of JavaScript 'u'-mode patterns that RE2 runs with the same meaning
  (no lookaheads or back-references, repetitions up to 1000); other patterns are refused at
  import when literal and never match otherwise. Patterns run on RE2 (google-re2), whose time is
  linear in the input: an admin's '^(a|aa)+$' cannot stall a worker with a crafted answer.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import math
import operator
import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

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
    "string-length": (1, 1), "int": (1, 1), "number": (1, 1), "round": (1, 2), "today": (0, 0),
    "date": (1, 1), "true": (0, 0), "false": (0, 0), "string": (1, 1), "boolean": (1, 1),
    "contains": (2, 2), "starts-with": (2, 2), "ends-with": (2, 2), "substr": (2, 3),
    "floor": (1, 1), "ceiling": (1, 1), "abs": (1, 1), "count": (1, 1), "sum": (1, 1),
    "min": (1, None), "max": (1, None), "normalize-space": (1, 1),
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
        node = self.plain_primary()
        while self.peek("["):
            node = Filter(node, self.predicate())
        return node

    def predicate(self, columns: bool = False) -> Node:
        """'[' expression ']'; in instance() look-ups bare names are the list's columns."""
        bracket = self.take()
        self.enter(bracket)
        saved, self.choice_filter = self.choice_filter, columns or self.choice_filter
        node = self.expression(1)
        self.choice_filter = saved
        if not self.peek("]"):
            raise self.fail("missing ']'" if self.peek("end") else "expected an operator or ']'")
        self.take()
        self.nesting -= 1
        return node

    def plain_primary(self) -> Node:
        token = self.tokens[self.i]
        kind, text, pos = token.kind, token.text, token.pos
        if kind not in {"num", "str", "ref", "last", "(", ".", "..", "/", "name"}:
            raise self.fail("expected a value")
        self.take()
        if kind == "(":
            self.enter(token)
            node = self.expression(1)
            self.close()
            return node
        if kind in {"..", "/"} or (kind == "." and self.peek("/")):
            return self.path(token)  # './a' names a child of the entry as '../a' a sibling
        if kind == "name" and self.peek("/"):
            hint = "; use ${name} to refer to a question"
            raise ExpressionError(
                f"Relative paths such as '{text}/…' are not supported (position {pos}){hint}", pos
            )
        if kind == "name" and self.peek("("):
            return self.call(token)
        if kind == "name" and not self.choice_filter:
            return Child(text)  # ODK reads it as a path to a child node: see Child
        constructors = {
            "num": lambda t: Num(float(t)),
            "str": Str,
            "ref": Ref,
            "last": LastSaved,
            "name": Column,
        }
        return constructors[kind](text) if kind != "." else Current()

    def path(self, first: _Token, *, parent_ok: bool = False) -> Node:
        # '../a', '../../g/a' and '/data/g/a' all refer to the question named by the last step.
        step = first.text
        while step == "/" or self.peek("/"):
            if step != "/":
                self.take()  # the '/' between two steps
            if not (self.peek("name") or self.peek("..")):
                raise self.fail("expected a question name after '/'")
            step = self.take().text
        if step == ".." and parent_ok:
            return Position()
        if step == "..":
            raise ExpressionError(
                f"The path at position {first.pos} must end with a question name, as in '../a'",
                first.pos,
            )
        return Ref(step)

    def position_of_parent(self, pos: int) -> Node | None:
        """position(..) or position(current()/..), the number of the repeat entry."""
        tokens = [t.kind if t.kind != "name" else t.text for t in self.tokens[self.i : self.i + 7]]
        for shape in (["(", "..", ")"], ["(", "current", "(", ")", "/", "..", ")"]):
            if tokens[: len(shape)] == shape:
                self.i += len(shape)
                return Position()
        if tokens[:2] == ["(", ")"]:
            return None
        raise ExpressionError(
            f"position() at position {pos} is supported as position(..), the number of the "
            "repeat entry, or without arguments inside a predicate",
            pos,
        )

    def instance(self, pos: int) -> Node:
        """instance('list')/root/item[predicate]/column, a look-up in a choice list."""
        shape = "instance('list')/root/item[…]/column"
        if not (self.peek("(") and self.tokens[self.i + 1].kind == "str"):
            raise ExpressionError(
                f"instance() at position {pos} must name a list, as in {shape}", pos
            )
        list_name = self.tokens[self.i + 1].text
        self.i += 2
        self.close("expected ')'")
        self.nesting += 1  # close() counted a '(' that enter() did not
        steps = []
        while self.peek("/") and len(steps) < 2:
            self.take()
            if not self.peek("name"):
                raise self.fail("expected a name after '/'")
            steps.append(self.take().text)
        if steps != ["root", "item"]:
            raise ExpressionError(
                f"instance('{list_name}') at position {pos} is supported as {shape}", pos
            )
        predicates = []
        while self.peek("["):
            predicates.append(self.predicate(columns=True))
        field = None
        if self.peek("/"):
            self.take()
            if not self.peek("name"):
                raise self.fail("expected a column name after '/'")
            field = self.take().text
        return Instance(list_name, tuple(predicates), field)

    def call(self, name_token: _Token) -> Node:
        name, pos = name_token.text, name_token.pos
        if name == "position":
            found = self.position_of_parent(pos)
            if found is not None:
                return found
        if name == "instance":
            return self.instance(pos)
        if name == "jr:itext":
            return self.itext(pos)
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
        if name == "current" and self.peek("/"):
            return self.path(self.take())  # current()/../a: the question a, as '../a'
        if name == "regex" and isinstance(args[1], Str):
            try:
                _compile_regex(args[1].value)
            except ValueError as error:
                raise ExpressionError(
                    f"Unsupported regular expression '{args[1].value}' in regex() at position "
                    f"{pos}: {error}",
                    pos,
                ) from None
        if name == "indexed-repeat":
            args = self.indexed_repeat(args, pos)
        if name == "jr:choice-name":
            args = [args[0], Str(self.choice_question(args[1], pos))]
        return Call(name, tuple(args))

    def itext(self, pos: int) -> Node:
        """jr:itext(instance('list')/root/item[…]/itextId): the label, in the form's language."""
        self.enter(self.take())
        found = self.expression(1) if not self.peek(")") else None
        self.close("expected ')'")
        if not (isinstance(found, Instance) and found.field == "itextId"):
            raise ExpressionError(
                f"jr:itext() at position {pos} is supported as "
                "jr:itext(instance('list')/root/item[…]/itextId), a choice's label",
                pos,
            )
        return replace(found, field="label")

    @staticmethod
    def indexed_repeat(args: list[Node], pos: int) -> list[Node]:
        # Over nested repeats: indexed-repeat(${q}, ${outer}, i, ${inner}, j), outermost first.
        if len(args) % 2 == 0:
            raise ExpressionError(
                f"indexed-repeat() at position {pos} takes a question and, for each repeat "
                "level, the repeat and a number: indexed-repeat(${question}, ${repeat}, number)",
                pos,
            )
        if not all(isinstance(a, Ref) for a in (args[0], *args[1::2])):
            raise ExpressionError(
                f"indexed-repeat() at position {pos} needs a question and its repeat, as in "
                "indexed-repeat(${question}, ${repeat}, number)",
                pos,
            )
        return args

    @staticmethod
    def choice_question(node: Node, pos: int) -> str:
        # pyxform writes '${q}' inside the quotes as the path of q; both name the question.
        text = node.value.strip() if isinstance(node, Str) else ""
        match = re.fullmatch(r"\$\{([^}]+)\}|(?:/[^/\s]+)*/([^/\s]+)", text)
        if match is None:
            raise ExpressionError(
                f"jr:choice-name() at position {pos} needs the select question in quotes as its "
                "second argument, as in jr:choice-name(${q}, '${q}')",
                pos,
            )
        return match.group(1) or match.group(2)


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
    if isinstance(node, Filter):
        return (node.base, node.predicate)
    if isinstance(node, Instance):
        return node.predicates
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


def last_saved_names(node: Node) -> frozenset[str]:
    """Names read from the last saved interview with ${last-saved#name}."""
    return frozenset(n.name for n, _ in _walk(node) if isinstance(n, LastSaved))


def uses_current(node: Node) -> bool:
    """Whether the expression uses '.' (or current(), or once(), which read the answer)."""
    return any(
        isinstance(n, Current) or (isinstance(n, Call) and n.name in {"current", "once"})
        for n, _ in _walk(node)
    )


_CONTEXT_CALLS = frozenset(
    {"indexed-repeat", "jr:choice-name", "uuid", "random", "now", "position", "last"}
)


def needs_context(node: Node) -> bool:
    """Whether the result depends on more than the answers it names: a repeat entry's number,
    other entries, the choice lists, the clock or chance (so it cannot be memoised on them)."""
    return any(
        isinstance(n, Position | Instance | LastSaved)
        or (isinstance(n, Call) and n.name in _CONTEXT_CALLS)
        for n, _ in _walk(node)
    )


def bare_names(node: Node) -> frozenset[str]:
    """Names written without ${…} outside choice filters (read as empty values, as ODK does)."""
    return frozenset(n.name for n, _ in _walk(node) if isinstance(n, Child))


def instance_lists(node: Node) -> frozenset[str]:
    """Names of the choice lists read with instance('list')."""
    return frozenset(n.list_name for n, _ in _walk(node) if isinstance(n, Instance))


def choice_name_questions(node: Node) -> frozenset[str]:
    """Names of the select questions whose labels jr:choice-name() reads."""
    return frozenset(
        n.args[1].value
        for n, _ in _walk(node)
        if isinstance(n, Call) and n.name == "jr:choice-name" and isinstance(n.args[1], Str)
    )


def to_json(node: Node) -> dict:
    """The AST as JSON-serialisable dicts (format in the module docstring)."""
    if isinstance(node, Num):
        return {"t": "num", "v": node.value}
    if isinstance(node, Str):
        return {"t": "str", "v": node.value}
    if isinstance(node, Ref):
        return {"t": "ref", "n": node.name}
    if isinstance(node, LastSaved):
        return {"t": "last", "n": node.name}
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
    if isinstance(node, Filter):
        return {"t": "filter", "a": to_json(node.base), "p": to_json(node.predicate)}
    if isinstance(node, Instance):
        predicates = [to_json(p) for p in node.predicates]
        return {"t": "inst", "l": node.list_name, "p": predicates, "f": node.field}
    if isinstance(node, Position):
        return {"t": "pos"}
    if isinstance(node, Child):
        return {"t": "child", "n": node.name}
    raise TypeError(f"Not an expression node: {node!r}")


# -- values and conversions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateTime:
    """An instant (dateTime): milliseconds since 1970-01-01T00:00Z, and the UTC offset in minutes
    it is shown in. In arithmetic it is days since 1970, as decimal-date-time() gives."""

    millis: float
    offset: int = 0


@dataclass
class EvalContext:
    """Where an expression finds its inputs.

    entries(name[, outer]): a repeat question's value in each entry of its repeat, in order (None
    where unanswered), for indexed-repeat(); outer, given over nested repeats, holds (repeat,
    number) pairs choosing the entries of the outer repeats; position: the number of the repeat
    entry the expression runs in; choice_rows(list): the rows of a choice list ({"name",
    "label", other columns}) for instance(); choice_label(question, code): a choice's label for
    jr:choice-name(); now: the instant of now(), with its UTC offset.
    """

    lookup: Callable[[str], object]
    current: object = None
    choice: Mapping[str, str] | None = None
    today: date | None = None
    entries: Callable[..., Sequence[object]] | None = None
    position: int = 1
    choice_rows: Callable[[str], Sequence[Mapping[str, str]]] | None = None
    choice_label: Callable[[str, str], str | None] | None = None
    now: DateTime | None = None
    focus: tuple[object, int, int] | None = None  # a predicate's (value, position, size)
    # The form's CSV attachments for pulldata(), by file name without '.csv'.
    tables: Mapping[str, Sequence[Mapping[str, str]]] | None = None
    # ${last-saved#name}: the answers of the last saved interview of the form (none: empty).
    last_saved: Callable[[str], object] | None = None


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
    if isinstance(value, DateTime):
        return _iso_datetime(value)
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
    if isinstance(value, DateTime):
        return value.millis / _DAY_MS
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
    if isinstance(value, date | DateTime):
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
    if isinstance(value, bool | str | date | DateTime):
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


_DAY_MS = 86_400_000
_MIN_MS = (date.min.toordinal() - _EPOCH) * _DAY_MS
_MAX_MS = (date.max.toordinal() + 1 - _EPOCH) * _DAY_MS - 1
_DATETIME_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _fields(value: DateTime) -> tuple[date, int, int, int, int] | None:
    """Local (date, hours, minutes, seconds, milliseconds) of an instant; None out of range."""
    local = math.floor(value.millis) + value.offset * 60_000
    if not _MIN_MS <= local <= _MAX_MS:
        return None
    days, rest = divmod(local, _DAY_MS)
    seconds, millis = divmod(rest, 1000)
    return (
        date.fromordinal(_EPOCH + days),
        seconds // 3600,
        seconds // 60 % 60,
        seconds % 60,
        millis,
    )


def _iso_datetime(value: DateTime) -> str:
    fields = _fields(value)
    if fields is None:
        return ""
    day, h, m, sec, ms = fields
    sign, offset = ("-" if value.offset < 0 else "+"), abs(value.offset)
    return (
        f"{day.isoformat()}T{h:02d}:{m:02d}:{sec:02d}.{ms:03d}"
        f"{sign}{offset // 60:02d}:{offset % 60:02d}"
    )


def _parse_datetime(text: str) -> DateTime | None:
    """An ISO 8601 date-time; without an offset it is read as UTC (the same on every device)."""
    match = _DATETIME_TEXT.fullmatch(text.strip(_XPATH_WS))
    if match is None:
        return None
    y, mo, d, h, mi, sec, frac, zone = match.groups()
    day = _parse_date(f"{y}-{mo}-{d}")
    if day is None or int(h) > 23 or int(mi) > 59 or int(sec or 0) > 59:
        return None
    offset = 0
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            return None
        offset = (int(digits[:2]) * 60 + int(digits[2:])) * (-1 if zone[0] == "-" else 1)
    local = (day.toordinal() - _EPOCH) * _DAY_MS + (int(h) * 60 + int(mi)) * 60_000
    local += int(sec or 0) * 1000 + int((frac or "0")[:3].ljust(3, "0"))
    return DateTime(float(local - offset * 60_000), offset)


def value_to_json(value: object) -> object:
    """Encode a value for the browser and the JS tests (format in the module docstring)."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"num": _format_number(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, DateTime):
        return {"datetime": [value.millis, value.offset]}
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
        if "datetime" in data:
            millis, offset = data["datetime"]
            return DateTime(float(millis), int(offset))
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


def _now() -> DateTime:
    moment = datetime.now().astimezone()
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return DateTime(float(math.floor(moment.timestamp() * 1000)), minutes)


_ALPHANUMERIC = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MAX_UUID_LENGTH = 1000


def _uuid(length: object) -> str:
    """uuid(): a random version 4 UUID; uuid(n): n random letters and digits."""
    if length is None:
        return str(uuid.uuid4())
    n = to_number(length)
    if not math.isfinite(n) or n < 1:
        return ""
    count = min(int(n), _MAX_UUID_LENGTH)
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(count))


def pulldata_files(node: Node) -> set[str]:
    """The files (without '.csv') that the pulldata() calls of an expression name literally."""
    return {
        n.args[0].value.removesuffix(".csv")
        for n, _ in _walk(node)
        if isinstance(n, Call) and n.name == "pulldata" and isinstance(n.args[0], Str)
    }


def pulldata_columns(node: Node) -> dict[str | None, set[str] | None]:
    """The columns pulldata() calls read, by file (without '.csv'): the value and key columns.

    None as a file's columns: a call names a column with an expression, so any column may be
    read. None as a file: a call names its file with an expression, so any table may be read.
    """
    found: dict[str | None, set[str] | None] = {}
    for n, _ in _walk(node):
        if not (isinstance(n, Call) and n.name == "pulldata"):
            continue
        file = n.args[0].value.removesuffix(".csv") if isinstance(n.args[0], Str) else None
        column, key = n.args[1], n.args[2]
        if file is None or not (isinstance(column, Str) and isinstance(key, Str)):
            found[file] = None
        elif (known := found.setdefault(file, set())) is not None:
            known |= {column.value, key.value}
    return found


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
    if isinstance(value, str) and (instant := _parse_datetime(value)):
        value = instant
    if isinstance(value, DateTime):
        fields = _fields(value)
        return fields[0] if fields else ""
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


def _js_math(function: Callable[[float], float]) -> Callable[[object], float]:
    """A math function with JavaScript's results where Python raises (NaN, or +-Infinity)."""

    def run(value: object) -> float:
        x = to_number(value)
        try:
            return function(x)
        except OverflowError:
            return math.inf
        except ValueError:
            if x == 0 and function in (math.log, math.log10):
                return -math.inf
            return _NAN

    return run


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y.is_integer() and y % 2 == 1


def _pow(base: object, exponent: object) -> float:
    """Math.pow: NaN for a NaN exponent and for (+-1) ** +-Infinity, where Python gives 1."""
    x, y = to_number(base), to_number(exponent)
    if math.isnan(y):
        return _NAN
    if y == 0:
        return 1.0
    if math.isnan(x) or (abs(x) == 1 and math.isinf(y)):
        return _NAN
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and _is_odd_integer(y) else math.inf
    except ValueError:
        if x == 0:  # 0 ** negative: Infinity, signed like the zero for odd exponents
            return math.copysign(math.inf, x) if _is_odd_integer(y) else math.inf
        return _NAN


def _substring_before(text: object, part: object) -> str:
    a, b = to_string(text), to_string(part)
    found = a.find(b) if b else -1
    return a[:found] if found >= 0 else ""


def _substring_after(text: object, part: object) -> str:
    a, b = to_string(text), to_string(part)
    found = a.find(b)
    return a[found + len(b) :] if found >= 0 else ""


def _translate(text: object, source: object, target: object) -> str:
    mapping: dict[str, str] = {}
    replacement = to_string(target)
    for i, ch in enumerate(to_string(source)):
        mapping.setdefault(ch, replacement[i] if i < len(replacement) else "")
    return "".join(mapping.get(ch, ch) for ch in to_string(text))


def _values(args: tuple[object, ...]) -> list[object]:
    return [v for x in args for v in (x if isinstance(x, NodeSet) else (x,))]


def _to_datetime(value: object) -> DateTime | None:
    if isinstance(value, NodeSet):
        value = value[0] if value else ""
    if isinstance(value, DateTime):
        return value
    if isinstance(value, date):
        return DateTime(float((value.toordinal() - _EPOCH) * _DAY_MS))
    if isinstance(value, str):
        parsed = _parse_date(value)
        if parsed is not None:
            return _to_datetime(parsed)
        if (instant := _parse_datetime(value)) is not None:
            return instant
    x = to_number(value)
    if not math.isfinite(x):
        return None
    millis = float(math.floor(x * _DAY_MS + 0.5))  # whole milliseconds, as JavaScript's Date
    return DateTime(millis) if _MIN_MS <= millis <= _MAX_MS else None


def _date_time(value: object) -> object:
    instant = _to_datetime(value)
    return instant if instant is not None and _fields(instant) else ""


def _format_date(value: object, pattern: object) -> str:
    """ODK's format-date(): %Y %y %m %n %b %d %e %a %H %h %M %S %3, English names."""
    instant = _to_datetime(value)
    fields = _fields(instant) if instant is not None else None
    if fields is None:
        return ""
    day, h, m, sec, ms = fields
    codes = {
        "Y": f"{day.year:04d}", "y": f"{day.year % 100:02d}", "m": f"{day.month:02d}",
        "n": str(day.month), "b": _MONTHS[day.month - 1], "d": f"{day.day:02d}",
        "e": str(day.day), "a": _WEEKDAYS[day.weekday()], "H": f"{h:02d}", "h": str(h),
        "M": f"{m:02d}", "S": f"{sec:02d}", "3": f"{ms:03d}",
    }  # fmt: skip
    text, out, i = to_string(pattern), [], 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] in codes:
            out.append(codes[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# As Enketo's openrosa-xpath-evaluator: a sphere of the Earth's equatorial radius, results in
# metres (square metres) rounded to centimetres.
_EARTH_RADIUS = 6378100.0


def _geopoints(args: tuple[object, ...]) -> list[tuple[float, float]] | None:
    """The points of a geotrace/geoshape text, of a node-set of geopoints, or of several
    geopoint arguments, as (latitude, longitude) in radians; None if one is not a geopoint."""
    if len(args) == 1 and isinstance(args[0], NodeSet) and len(args[0]) != 1:
        texts = [to_string(v) for v in args[0]]
    elif len(args) == 1:
        texts = to_string(args[0]).split(";")
    else:
        texts = [to_string(a) for a in args]
    points = []
    for text in texts:
        numbers = [to_number(t) for t in _split_ws(text)]
        if not 2 <= len(numbers) <= 4 or any(math.isnan(n) for n in numbers):
            return None
        lat, lon = numbers[0], numbers[1]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        points.append((lat * math.pi / 180, lon * math.pi / 180))
    return points


def _centimetres(x: float) -> float:
    return _js_int(math.floor, x * 100 + 0.5) / 100


def _distance(*args: object) -> float:
    points = _geopoints(args)
    if points is None:
        return _NAN
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(points):
        cosine = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(
            lon1 - lon2
        )
        total += math.acos(max(-1.0, min(1.0, cosine))) * _EARTH_RADIUS
    return _centimetres(total)


def _area(shape: object) -> float:
    points = _geopoints((shape,))
    if points is None:
        return _NAN
    total = 0.0
    for i, (lat1, lon1) in enumerate(points):
        lat2, lon2 = points[(i + 1) % len(points)]
        total += (lon2 - lon1) * (2 + math.sin(lat1) + math.sin(lat2))
    return _centimetres(abs(total * _EARTH_RADIUS * _EARTH_RADIUS / 2))


_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
             "SHA-512": "sha512"}  # fmt: skip


def _digest(value: object, algorithm: object, encoding: object = "base64") -> str:
    """ODK's digest(text, 'MD5'|'SHA-1'|'SHA-256'|'SHA-384'|'SHA-512', 'base64'|'hex')."""
    name, form = _DIGESTS.get(to_string(algorithm)), to_string(encoding)
    if name is None or form not in {"base64", "hex"}:
        return ""
    # A lone surrogate becomes U+FFFD, as the browser's TextEncoder makes it.
    text = to_string(value).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    raw = hashlib.new(name, text.encode("utf-8")).digest()
    return raw.hex() if form == "hex" else base64.b64encode(raw).decode("ascii")


def _within(count: float, low: object, high: object) -> bool:
    """checklist(): between min and max inclusive, where -1 means no limit."""
    a, b = to_number(low), to_number(high)
    return (a == -1 or count >= a) and (b == -1 or count <= b)


def _checklist(low: object, high: object, *values: object) -> bool:
    return _within(float(sum(1 for v in _values(values) if to_boolean(v))), low, high)


def _weighted_checklist(low: object, high: object, *pairs: object) -> bool:
    total = 0.0
    for value, weight in zip(pairs[::2], pairs[1::2], strict=False):
        if to_boolean(value):
            total += to_number(weight)
    return _within(total, low, high)


_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _base64_decode(value: object) -> str:
    """The UTF-8 text a base64 value encodes; '' for anything that is not base64."""
    text = to_string(value)
    if not _BASE64.fullmatch(text):
        return ""
    return base64.b64decode(text).decode("utf-8", "replace")


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
    "pow": _pow,
    "sqrt": _js_math(math.sqrt),
    "exp": _js_math(math.exp),
    "exp10": lambda x: _pow(10.0, x),
    "log": _js_math(math.log),
    "log10": _js_math(math.log10),
    "sin": _js_math(math.sin),
    "cos": _js_math(math.cos),
    "tan": _js_math(math.tan),
    "asin": _js_math(math.asin),
    "acos": _js_math(math.acos),
    "atan": _js_math(math.atan),
    "atan2": lambda y, x: math.atan2(to_number(y), to_number(x)),
    "pi": lambda: math.pi,
    "substring-before": _substring_before,
    "substring-after": _substring_after,
    "translate": _translate,
    "boolean-from-string": lambda s: to_string(s) in {"true", "1"},
    "join": lambda sep, *xs: to_string(sep).join(map(to_string, _values(xs))),
    "count-non-empty": lambda x: float(sum(1 for v in _values((x,)) if to_string(v) != "")),
    "format-date": _format_date,
    "format-date-time": _format_date,
    "distance": _distance,
    "checklist": _checklist,
    "weighted-checklist": _weighted_checklist,
    "base64-decode": _base64_decode,
    "digest": _digest,
    "area": _area,
    "date-time": _date_time,
    "decimal-date-time": lambda x: (
        to_number(instant) if (instant := _to_datetime(x)) is not None else _NAN
    ),
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


def re2_pattern(pattern: str) -> str:
    """The RE2 pattern the server runs for a regex() pattern; ValueError outside the subset."""
    return _translate_regex(pattern)


def regex_matches(text: str, pattern: str) -> bool:
    """Whether regex(text, pattern) holds, exactly as a constraint checks it on the server."""
    return _regex(text, pattern)


@functools.lru_cache(maxsize=512)
def _compile_regex(pattern: str) -> re2._Regexp:
    """Compile a JavaScript-syntax pattern for RE2; ValueError if outside the subset."""
    try:
        return re2.compile(_translate_regex(pattern), _RE2_OPTIONS)
    except re2.error as error:
        raise ValueError(str(error)) from None
