"""Answers shown inside texts: '${name}' and '<output value="…"/>' in labels, hints, notes and
messages, filled in from the answers known so far.

The server fills them in when it renders the page (and in its messages); the page's script
(static/js/form.js) refills them live from the same expression trees, carried in each
placeholder's data-expr attribute. Answers are always inserted as text, never as markup.
"""

from __future__ import annotations

import functools
import json
import re

from markupsafe import Markup, escape

from survey.instruments import expressions

# pyxform accepts ${name} anywhere in a text, and ODK's own <output value="…"/> element.
_PIECE = re.compile(
    r"\$\{([^}\s]+)\}|<output\s+value\s*=\s*(?:\"([^\"]*)\"|'([^']*)')\s*/?>", re.IGNORECASE
)

Part = str | expressions.Node


@functools.lru_cache(maxsize=4096)
def parts(text: str) -> tuple[Part, ...]:
    """The text split into literal strings and expressions; text without pieces is one part."""
    found: list[Part] = []
    position = 0
    for match in _PIECE.finditer(text):
        name, output = match.group(1), match.group(2) or match.group(3)
        try:
            node = expressions.Ref(name) if name else expressions.parse(output or "")
        except expressions.ExpressionError:
            continue  # not an expression Birge reads: the text stays as it is written
        if match.start() > position:
            found.append(text[position : match.start()])
        found.append(node)
        position = match.end()
    if position < len(text):
        found.append(text[position:])
    return tuple(found)


def outputs(text: str | None) -> list[str]:
    """The expression texts of the '<output value="…"/>' elements, for the importer to check."""
    return [m.group(2) or m.group(3) or "" for m in _PIECE.finditer(text or "") if not m.group(1)]


def has_pieces(text: str | None) -> bool:
    """Whether the text shows answers."""
    return bool(text) and any(not isinstance(p, str) for p in parts(text or ""))


def nodes(text: str | None) -> list[expressions.Node]:
    """The expressions a text shows."""
    return [p for p in parts(text or "") if not isinstance(p, str)]


def _value(node: expressions.Node, context: expressions.EvalContext | None) -> str:
    if context is None:
        return ""
    try:
        return expressions.to_string(expressions.evaluate(node, context))
    except (expressions.ExpressionError, TypeError, ValueError):
        return ""


def fill(text: str | None, context: expressions.EvalContext | None) -> str:
    """Plain text with the answers filled in (for messages); '' for no text."""
    return "".join(p if isinstance(p, str) else _value(p, context) for p in parts(text or ""))


def render(text: str | None, context: expressions.EvalContext | None) -> Markup | str | None:
    """HTML for a page: the text escaped, each answer in a span the page's script refills."""
    if not has_pieces(text):
        return text
    html = []
    for part in parts(text or ""):
        if isinstance(part, str):
            html.append(escape(part))
            continue
        tree = json.dumps(expressions.to_json(part), separators=(",", ":"))
        html.append(
            Markup('<span class="piped" data-expr="{}">{}</span>').format(
                tree, _value(part, context)
            )
        )
    return Markup("").join(html)


def to_json(text: str | None) -> list[object] | None:
    """The parts as JSON for the page's script (strings and {"e": tree}); None without pieces."""
    if not has_pieces(text):
        return None
    return [p if isinstance(p, str) else {"e": expressions.to_json(p)} for p in parts(text or "")]
