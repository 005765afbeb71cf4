"""The parser: expression text to a syntax tree, checked for names, arity and depth; walks over
the tree and its JSON form for the browser."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import replace

from survey.instruments.expressions.regex import _compile_regex
from survey.instruments.expressions.syntax import (
    _ARITY,
    _DOT_DEFAULT,
    _MAX_NESTING,
    _PRECEDENCE,
    _REFUSED_FUNCTIONS,
    MAX_DEPTH,
    BinOp,
    Call,
    Child,
    Column,
    Current,
    ExpressionError,
    Filter,
    Instance,
    LastSaved,
    Neg,
    Node,
    Num,
    Position,
    Ref,
    Str,
    _Token,
    _tokenize,
)

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
        if name in _REFUSED_FUNCTIONS:
            raise ExpressionError(_REFUSED_FUNCTIONS[name].format(pos=pos), pos)
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
        if not args and name in _DOT_DEFAULT:
            args = [Current()]
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
        or (isinstance(n, Call) and n.name == "randomize" and len(n.args) == 1)  # chance
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


def indexed_repeat_calls(node: Node) -> list[tuple[str, tuple[str, ...]]]:
    """Each indexed-repeat() call's question and the repeats it names, in its order."""
    return [
        (n.args[0].name, tuple(a.name for a in n.args[1::2] if isinstance(a, Ref)))
        for n, _ in _walk(node)
        if isinstance(n, Call) and n.name == "indexed-repeat" and isinstance(n.args[0], Ref)
    ]


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
