"""regex(): JavaScript 'u'-mode patterns translated to RE2, refused where the meaning would
differ, run in time linear in the input."""

from __future__ import annotations

import functools
import re

import re2

from survey.instruments.expressions.syntax import _DIGITS

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


@functools.lru_cache(maxsize=512)
def _compile_regex(pattern: str) -> re2._Regexp:
    """Compile a JavaScript-syntax pattern for RE2; ValueError if outside the subset."""
    try:
        return re2.compile(_translate_regex(pattern), _RE2_OPTIONS)
    except re2.error as error:
        raise ValueError(str(error)) from None
