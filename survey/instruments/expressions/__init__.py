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
- randomize(ns, seed) shuffles as JavaRosa does (inside-out Fisher–Yates on a Park–Miller
  generator, the seed cast like Java's double-to-long), so a seed gives ODK Collect's order;
  without a seed the order differs between calls. decimal-time() reads a time as written (in
  its own offset, not the device's zone). string(), number() and normalize-space() without an
  argument read '.'.
- extract-signed() is refused at import: there is no signature check to give it.
- regex() accepts the subset of JavaScript 'u'-mode patterns that RE2 runs with the same meaning
  (no lookaheads or back-references, repetitions up to 1000); other patterns are refused at
  import when literal and never match otherwise. Patterns run on RE2 (google-re2), whose time is
  linear in the input: an admin's '^(a|aa)+$' cannot stall a worker with a crafted answer.
"""

from __future__ import annotations

from survey.instruments.expressions.evaluation import (
    evaluate,
    evaluate_bool,
)
from survey.instruments.expressions.functions import (
    pulldata_columns,
    pulldata_files,
    regex_matches,
    shuffled_codes,
)
from survey.instruments.expressions.parser import (
    bare_names,
    choice_name_questions,
    indexed_repeat_calls,
    instance_lists,
    last_saved_names,
    needs_context,
    parse,
    references,
    to_json,
    uses_current,
)
from survey.instruments.expressions.regex import (
    MAX_REPEAT,
    _compile_regex,
    _translate_regex,
    re2_pattern,
)
from survey.instruments.expressions.syntax import (
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
    NodeSet,
    Num,
    Position,
    Ref,
    Str,
)
from survey.instruments.expressions.values import (
    DateTime,
    EvalContext,
    to_boolean,
    to_number,
    to_string,
    value_from_json,
    value_to_json,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_REPEAT",
    "BinOp",
    "Call",
    "Child",
    "Column",
    "Current",
    "DateTime",
    "EvalContext",
    "ExpressionError",
    "Filter",
    "Instance",
    "LastSaved",
    "Neg",
    "Node",
    "NodeSet",
    "Num",
    "Position",
    "Ref",
    "Str",
    "_compile_regex",
    "_translate_regex",
    "bare_names",
    "choice_name_questions",
    "evaluate",
    "evaluate_bool",
    "indexed_repeat_calls",
    "instance_lists",
    "last_saved_names",
    "needs_context",
    "parse",
    "pulldata_columns",
    "pulldata_files",
    "re2_pattern",
    "references",
    "regex_matches",
    "shuffled_codes",
    "to_boolean",
    "to_json",
    "to_number",
    "to_string",
    "uses_current",
    "value_from_json",
    "value_to_json",
]
