"""The browser evaluator (static/js/expressions.js) agrees with the Python one, under node.

Every test batches its cases into a single node process: cases are written to a JSON file, a small
runner evaluates them all, and the results are compared with the Python evaluator's.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.instruments import expressions as ex
from survey.instruments.expressions import (
    BinOp,
    Call,
    Column,
    Current,
    EvalContext,
    Neg,
    Node,
    NodeSet,
    Num,
    Ref,
    Str,
)

SCRIPT = Path(__file__).resolve().parents[3] / "survey" / "static" / "js" / "expressions.js"
TODAY = "2024-02-29"
RUNNER = """
const fs = require('fs');
const E = require(process.argv[2]);
const cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const results = cases.map((c) => {
  try {
    if (c.pattern !== undefined) return { ok: E.regexSupported(c.pattern) };
    const ctx = {
      lookup: (n) => c.values[n], current: c.current, choice: c.choice, today: c.today,
      position: c.position, now: c.now, tables: c.tables,
      entries: c.entries && ((n) => c.entries[n] || []),
      choiceRows: c.rows && ((l) => c.rows[l] || []),
      choiceLabel: c.labels && ((q, code) => (c.labels[q] || {})[code]),
      lastSaved: c.lastSaved && ((n) => c.lastSaved[n]),
    };
    return { ok: E.encode(E.evaluate(c.ast, ctx)) };
  } catch (e) {
    return { error: String((e && e.stack) || e) };
  }
});
fs.writeFileSync(process.argv[4], JSON.stringify(results));
"""


@pytest.fixture
def node_eval(tmp_path: Path):
    """Evaluate a list of cases in one node process; returns their results."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    runner = tmp_path / "runner.js"
    runner.write_text(RUNNER, encoding="utf-8")

    def run(cases: list[dict]) -> list[dict]:
        cases_file, out_file = tmp_path / "cases.json", tmp_path / "results.json"
        cases_file.write_text(json.dumps(cases, allow_nan=False), encoding="utf-8")
        subprocess.run(
            [node, str(runner), str(SCRIPT), str(cases_file), str(out_file)],
            check=True,
            timeout=60,
        )
        return json.loads(out_file.read_text(encoding="utf-8"))

    return run


def canonical(value: object) -> object:
    """Comparable form of a JSON value: numbers as floats (so 3 == 3.0, -0 == 0), bools apart."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("num", float(value) + 0.0)
    if isinstance(value, list):
        return ("list", tuple(canonical(v) for v in value))
    assert isinstance(value, dict)
    return ("dict", tuple(sorted((k, canonical(v)) for k, v in value.items())))


def python_case(
    node: Node,
    values: dict[str, object],
    current: object = None,
    choice: dict[str, str] | None = None,
) -> tuple[dict, object]:
    """The JSON case for node and the Python evaluator's encoded result."""
    context = EvalContext(
        lookup=values.get, current=current, choice=choice, today=dt.date.fromisoformat(TODAY)
    )
    expected = ex.value_to_json(ex.evaluate(node, context))
    case = {
        "ast": ex.to_json(node),
        "values": {k: ex.value_to_json(v) for k, v in values.items()},
        "current": ex.value_to_json(current),
        "choice": choice,
        "today": TODAY,
    }
    return case, expected


def assert_agree(cases: list[tuple[str, dict, object]], node_eval) -> None:
    """Run the cases in node and report every disagreement with Python."""
    results = node_eval([case for _, case, _ in cases])
    problems = []
    for (label, case, expected), result in zip(cases, results, strict=True):
        if "ok" not in result or canonical(result["ok"]) != canonical(expected):
            context = json.dumps(case.get("values"), ensure_ascii=False)[:300]
            problems.append(f"{label}: python {expected!r}, node {result}, values {context}")
    assert not problems, f"{len(problems)} of {len(cases)} differ:\n" + "\n".join(problems[:20])


# -- hand-written cases --------------------------------------------------------------------

VALUES: dict[str, object] = {
    "age": 30,
    "height": 1.75,
    "name": "Aigerim",
    "empty": None,
    "text_num": " 12 ",
    "fruits": ["apple", "pear"],
    "dob": dt.date(2000, 1, 15),
    "ancient": dt.date(1, 1, 1),
    "ages": NodeSet([30, 5, 12]),
    "names": NodeSet(["a", None, "c"]),
    "no_rows": NodeSet([]),
    "picks": NodeSet([["x", "y"], ["z"]]),
    "dates": NodeSet([dt.date(2020, 1, 1), dt.date(2021, 6, 30)]),
    "nan": math.nan,
    "inf": math.inf,
    "pattern": "^[a-z]+$",
    "bad_pattern": "(?<=a)b",
    "emoji": "h\U0001f600llo",
}

EXPRESSIONS = [
    "1 + 2 * 3", "7 div 2", "-7 mod 3", "7 mod -3", "5.5 mod 2", "1 div 0", "-1 div 0",
    "1 div -(0)", "0 div 0", "1 mod 0", "5 mod (1 div 0)", "(1 div 0) mod 2", "- - 3",
    "1 = 1 and 2 = 3", "0 or ''", "'a' or 0", "1 < 2 = 1", "3 > 2 > 1",
    "true() = 'x'", "false() = 0", "1 = ' 1.0 '", "${age} = '30'", "${text_num} = 12",
    "'abc' = 0", "0 div 0 != 0 div 0", "${empty} = 0", "${empty} = ''", "'1.0' = '1'",
    "'10' > '9'", "'b' > 'a'", "true() > 0", "${fruits} = 'apple pear'",
    "${ages} = 5", "${ages} != 30", "${ages} > 29", "${ages} = ${ages}", "${no_rows} = ''",
    "${no_rows} != ''", "${no_rows} = false()", "${ages} = true()", "${ages} > false()",
    "${dates} = '2021-06-30'", "${dates} < '2020-06-01'", "${ages} + 1", "-${ages}",
    "${ages}", "${names}", "${picks}", "${dates}", "${no_rows}", "${empty}", "${fruits}",
    "${nan}", "${inf}", "-${inf}", "${nan} = ${nan}", "${inf} > 1",
    "count(${ages})", "count(${age})", "sum(${ages})", "sum(${names})", "sum(${no_rows})",
    "min(${ages})", "max(${ages}, 100)", "min(${no_rows})", "max(1, 'x')", "min(3, 1, 2)",
    "concat(${names})", "concat('<', ${ages}, '>')", "concat('a', true(), ${empty}, ${dob})",
    "concat(1 div 3, ' ', 1 div 0, ' ', 0.1 + 0.2, ' ', 1000000 * 1000000 * 1000000 * 1000)",
    "string(0.000001)", "string(0.0000001)", "string(123456789 * 1000000000000)",
    "selected(${fruits}, 'pear')", "selected(${fruits}, ' pear ')", "selected(${picks}, 'z')",
    "selected(${empty}, '')", "count-selected(${fruits})", "count-selected(${picks})",
    "selected-at(${fruits}, 1)", "selected-at(${fruits}, -1)", "selected-at(${picks}, 2)",
    "selected-at(${fruits}, 1.9)", "selected-at(${fruits}, -0.5)",
    "regex(${name}, ${pattern})", "regex('abc', ${pattern})", "regex('ab', ${bad_pattern})",
    "regex('abc\n', 'c$')", "regex('a\rb', 'a.b')", "regex('h\U0001f600', '^h.$')",
    "regex('\u0663', '\\d')", "regex('\u00a0', '\\s')", "regex('\x1c', '\\s')",
    "regex('é', '\\w')", "regex('x', '[^\\s]')", "regex('-', '[+--]')",
    "not(1 = 2)", "not(${fruits})", "if(${age} > 18, 'adult', 'child')",
    "if(${no_rows}, 1, 2)", "if(1, ${ages}, 0)", "coalesce(${empty}, 'fallback')",
    "coalesce(${name}, 'x')", "coalesce(${no_rows}, ${dob})", "coalesce(0, 1)",
    "string-length(${emoji})", "string-length(${age})", "int(-2.7)", "int('3.9')",
    "1 div int(-0.5)", "1 div ceiling(-0.5)", "1 div floor(-(0))", "1 div round(-0.2)",
    "number('  4.5 ')", "number('1e3')", "number('-.5')", "number(${dob})", "number(true())",
    "round(2.5)", "round(-2.5)", "round(0.49999999999999994)", "round(1.2345, 2)",
    "round(1.005, 2)", "round(-1.25, 1)", "round(1234.5, -2)", "round(2.567, 1.9)",
    "round(1, 'x')", "round(1 div 0, 2)", "round(1.5, 400)", "round(2, 400)",
    "round(1234, -400)", "round(${inf})", "today()", "date('2024-03-01')",
    "date('2023-02-29')", "date('0000-01-01')", "date(0)", "date(-1)", "date(-(0))",
    "1 div date(-(0))", "date(1.9)", "date('19')", "date('x')", "date(1 div 0)",
    "date(3000000)", "date(2932896)", "date(-719162)", "date(-719163)", "date(${dob})",
    "date(${dates})", "date(today() + 1)", "today() - ${dob}", "${dob} < '2000-01-16'",
    "${dob} = '2000-01-15'", "'2000-01-15' = ${dob}", "${dob} != ''", "${dob} = 10971",
    "${dob} + 1", "${dob} = ' 10971 '", "1 div (-1 mod 1)", "string(${ancient})",
    "${ancient} - 1", "date(${ancient} - 1)",
    "contains('needs assessment', 'sess')", "contains('abc', '')", "starts-with('abc', 'ab')",
    "ends-with('abc', 'bc')", "substr('hello', 1)", "substr('hello', 1, 3)",
    "substr('hello', -3)", "substr('hello', 0, -1)", "substr('hello', 'x')",
    "substr(${emoji}, 1, 2)", "substr('hello', 0 - (1 div 0))", "substr('hello', 1 div 0)",
    "floor(-2.1)", "ceiling(2.1)", "abs(-3)", "abs(-(0))", "normalize-space('  a \t b\n')",
    "normalize-space('a\u00a0 b')", "boolean(${no_rows})", "boolean(${names})",
    "string(${names})", "string(${no_rows})", "true()", "false()", "string(${dob})",
]  # fmt: skip


def test_hand_written_cases_agree(node_eval) -> None:
    cases = []
    for text in EXPRESSIONS:
        case, expected = python_case(ex.parse(text), VALUES)
        cases.append((text, case, expected))
    choice = {"region": "north", "size": "10"}
    for text in ["region = 'north' and size > 5", "missing = ''", "concat(region, size)"]:
        case, expected = python_case(ex.parse(text, choice_filter=True), VALUES, choice=choice)
        cases.append((text, case, expected))
    for current in [5, None, ["a", "b"], "123", dt.date(2020, 1, 1), 2.5]:
        for text in [". > 3", ". = ''", "selected(., 'b')", "regex(., '^[0-9]{3}$')", "."]:
            case, expected = python_case(ex.parse(text), VALUES, current=current)
            cases.append((f"{text} with . = {current!r}", case, expected))
    assert_agree(cases, node_eval)


# -- generated trees and contexts ----------------------------------------------------------

REF_NAMES = ["a", "b", "c", "d"]
COLUMNS = ["x", "y"]
ARITY = {
    "selected": (2, 2), "count-selected": (1, 1), "selected-at": (2, 2), "regex": (2, 2),
    "not": (1, 1), "if": (3, 3), "coalesce": (2, 2), "concat": (1, 3),
    "string-length": (1, 1), "int": (1, 1), "number": (1, 1), "round": (1, 2), "today": (0, 0),
    "date": (1, 1), "true": (0, 0), "false": (0, 0), "string": (1, 1), "boolean": (1, 1),
    "contains": (2, 2), "starts-with": (2, 2), "ends-with": (2, 2), "substr": (2, 3),
    "floor": (1, 1), "ceiling": (1, 1), "abs": (1, 1), "count": (1, 1), "sum": (1, 1),
    "min": (1, 3), "max": (1, 3), "normalize-space": (1, 1),
    "sqrt": (1, 1), "substring-before": (2, 2), "substring-after": (2, 2), "translate": (3, 3),
    "boolean-from-string": (1, 1), "join": (2, 3), "count-non-empty": (1, 1),
    "format-date": (2, 2), "date-time": (1, 1), "decimal-date-time": (1, 1),
}  # fmt: skip
OPERATORS = ["or", "and", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "div", "mod"]
PATTERNS = ["^[0-9]+$", "a|b", "\\d{2,3}", "^\\s*$", "[^a-c]", "(?:x)+y?", "", "^.$"]
TEXT = "ab 0123456789.-\t\n\u00a0é\U0001f600%YmdHMSe3"

texts = st.one_of(
    st.text(alphabet=TEXT, max_size=6),
    st.sampled_from(["", "12", " 3.5 ", "-0", "1e3", "true", "2020-02-29", "2021-13-01", "a b"]),
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)).map(dt.date.isoformat),
)
literal_numbers = st.one_of(
    st.integers(0, 100).map(float),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(abs),
    st.sampled_from([0.5, 0.1, 2.5, 1e-7, 0.49999999999999994, 10957.0, 719162.0]),
)
leaves = st.one_of(
    literal_numbers.map(Num),
    texts.filter(lambda s: "'" not in s).map(Str),
    st.sampled_from(REF_NAMES).map(Ref),
    st.just(Current()),
    st.sampled_from(COLUMNS).map(Column),
)


def calls(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    """Function calls with a valid number of arguments; literal regex patterns are valid ones."""

    def build(name: str, args: list[Node], pattern: str, dynamic: bool) -> Node:
        if name == "regex" and not (dynamic and isinstance(args[1], Ref)):
            args = [args[0], Str(pattern)]
        return Call(name, tuple(args))

    return st.sampled_from(sorted(ARITY)).flatmap(
        lambda name: st.builds(
            build,
            st.just(name),
            st.lists(children, min_size=ARITY[name][0], max_size=ARITY[name][1]),
            st.sampled_from(PATTERNS),
            st.booleans(),
        )
    )


trees = st.recursive(
    st.one_of(leaves, st.just(ex.Position())),
    lambda children: st.one_of(
        st.builds(BinOp, st.sampled_from(OPERATORS), children, children),
        children.map(Neg),
        calls(children),
        # predicates: '.' is each value in turn, position() its number, last() their count
        st.builds(
            ex.Filter,
            st.sampled_from(REF_NAMES).map(Ref),
            st.one_of(
                children,
                st.sampled_from(["position", "last", "current"]).map(lambda f: Call(f, ())),
            ),
        ),
    ),
    max_leaves=12,
)
scalars = st.one_of(
    st.none(),
    texts,
    st.integers(-1000, 1000),
    st.floats(-1e9, 1e9, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.1, 1e21, 1.5e-7]),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3).map(NodeSet))
contexts = st.tuples(
    st.fixed_dictionaries({name: values for name in REF_NAMES}),
    scalars,
    st.fixed_dictionaries({name: texts for name in COLUMNS}),
)


def render(node: Node) -> str:
    """Fully parenthesised expression text for a tree."""
    if isinstance(node, Num):
        return format(Decimal(repr(node.value)), "f")
    if isinstance(node, Str):
        return "'" + node.value + "'"
    if isinstance(node, Ref):
        return "${" + node.name + "}"
    if isinstance(node, Current):
        return "."
    if isinstance(node, Column):
        return node.name
    if isinstance(node, BinOp):
        return f"({render(node.left)} {node.op} {render(node.right)})"
    if isinstance(node, Neg):
        return f"-({render(node.operand)})"
    if isinstance(node, ex.Filter):
        return f"{render(node.base)}[{render(node.predicate)}]"
    if isinstance(node, ex.Position):
        return "position(..)"
    if isinstance(node, ex.Child):
        return node.name
    assert isinstance(node, Call)
    return f"{node.name}({', '.join(render(a) for a in node.args)})"


def collect(strategy: st.SearchStrategy, count: int) -> list:
    """Draw count examples with hypothesis (one node run checks them all afterwards)."""
    drawn: list = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy)
    def draw(example: object) -> None:
        drawn.append(example)

    draw()
    return drawn


def test_generated_trees_agree(node_eval) -> None:
    cases = []
    for tree, (refs, current, choice) in collect(st.tuples(trees, contexts), 400):
        text = render(tree)
        node = ex.parse(text, choice_filter=True)
        assert node == tree
        case, expected = python_case(node, refs, current, choice)
        cases.append((text, case, expected))
    assert_agree(cases, node_eval)


@pytest.mark.parametrize(
    "kind",
    ["string", "number", "date", "round"],
)
def test_generated_conversions_agree(node_eval, kind: str) -> None:
    """Number printing and parsing, dates and rounding, over wide generated inputs."""
    strategy = {
        "string": st.floats(),
        "number": st.text(alphabet="0123456789.-+ \t\ne", max_size=8),
        "date": st.one_of(
            st.integers(-800_000, 3_000_000),
            st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
        ),
        "round": st.tuples(st.floats(), st.integers(-30, 30)),
    }[kind]
    expression = {
        "string": "string(${a})",
        "number": "number(${a})",
        "date": "string(date(${a}))",
        "round": "round(${a}, ${b})",
    }[kind]
    node = ex.parse(expression)
    cases = []
    for value in collect(strategy, 300):
        refs = {"a": value[0], "b": value[1]} if kind == "round" else {"a": value}
        case, expected = python_case(node, refs)
        cases.append((f"{expression} with {refs}", case, expected))
    assert_agree(cases, node_eval)


REGEX_ALPHABET = "ab01é😀\\^$.*+?()[]{}|-,:=!<dDwWsSbBxuk"


def test_generated_regexes_agree(node_eval) -> None:
    """The supported subset is the same in both languages, and so are the matches."""
    patterns = collect(st.text(alphabet=REGEX_ALPHABET, max_size=10), 400)
    subjects = collect(st.text(alphabet="ab01 é😀\n\r\u00a0\u0663-.^$[]{}()", max_size=6), 50)
    cases = []
    for i, pattern in enumerate(patterns):
        try:
            ex._compile_regex(pattern)
        except ValueError:
            supported = False
        else:
            supported = True
        cases.append((f"supported {pattern!r}", {"pattern": pattern}, supported))
        node = Call("regex", (Ref("s"), Ref("p")))
        refs = {"s": subjects[i % len(subjects)], "p": pattern}
        case, expected = python_case(node, refs)
        cases.append((f"regex({refs['s']!r}, {pattern!r})", case, expected))
    assert_agree(cases, node_eval)


def test_decode_and_encode_round_trip(node_eval) -> None:
    """Values survive the shared JSON encoding in both directions."""
    samples = [
        None, "x", 3, 2.5, -0.0, math.nan, math.inf, -math.inf, dt.date(2020, 2, 29),
        dt.date(1, 1, 1), dt.date(9999, 12, 31), ["a", "b"], NodeSet([1, "a", None, ["c"]]),
    ]  # fmt: skip
    cases = [
        (f"{v!r}", *python_case(Ref("v"), {"v": v})) for v in samples
    ]  # evaluating ${v} returns the normalised value itself
    assert_agree(cases, node_eval)


def test_catastrophic_patterns_cannot_hang_the_browser(node_eval) -> None:
    """A backtracking pattern is evaluated only on short answers in the browser; longer ones are
    left to the server's linear-time RE2 (which refuses them)."""
    import time

    node = Call("regex", (Ref("s"), Ref("p")))
    short = [("a" * 10, True), ("a" * 10 + "!", False)]
    cases = []
    for subject, expected in short:
        case, python = python_case(node, {"s": subject, "p": "^(a|aa)+$"})
        assert python == expected
        cases.append(case)
    cases += [python_case(node, {"s": "a" * n + "!", "p": "^(a|aa)+$"})[0] for n in (41, 5000)]
    cases.append(python_case(node, {"s": "a" * 900 + "!", "p": "^(?:ab)+$"})[0])
    started = time.perf_counter()
    results = node_eval(cases)
    assert time.perf_counter() - started < 5
    assert [r["ok"] for r in results] == [True, False, True, True, False]


def test_odk_functions_agree(node_eval) -> None:
    """Predicates, repeats, choice look-ups, maths, strings and dates: the Python cases of
    test_expressions_odk.py give the same results in the browser's evaluator."""
    from tests.survey.instruments import test_expressions_odk as odk

    extra = {
        "position": 3,
        "now": ex.value_to_json(odk.NOW),
        "entries": {k: [ex.value_to_json(v) for v in vs] for k, vs in odk.ENTRIES.items()},
        "rows": odk.ROWS,
        "labels": odk.LABELS,
    }
    texts = [text for text, _ in odk.ODK_CASES] + [
        "round(sin(1), 12)", "round(cos(2), 12)", "round(tan(0.5), 12)", "round(asin(0.5), 12)",
        "round(acos(0.5), 12)", "round(atan(2), 12)", "round(atan2(1, 2), 12)",
        "round(exp(1.5), 10)", "round(log(10), 12)", "round(log10(2), 12)", "sqrt(2)",
        "pow(2, 0.5)", "pow(-2, 3)", "pow(1 div 0, -1)", "pow(-(0), 0.5)", "sqrt(-(0))",
        "string-length(uuid())", "string-length(uuid(7))", "uuid(0)", "uuid(-3)",
        "regex(uuid(), '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$')",
        "regex(uuid(20), '^[0-9A-Za-z]{20}$')", "random() >= 0 and random() < 1",
        "format-date-time(date-time(-719162), '%Y-%m-%d %a')", "date-time(-719163)",
        "format-date-time(date-time(2932896.9999), '%Y-%m-%d %H:%M:%S.%3')",
        "format-date(date-time(-1.25), '%Y-%m-%d %H:%M')", "decimal-date-time(now())",
        "format-date('2024-02-29T23:59:59.9999+14:00', '%d %H:%M:%S.%3')",
        "translate('h😀llo', '😀l', 'xL')", "substring-after('h😀x', '😀')",
    ]  # fmt: skip
    cases = []
    for text in texts:
        expected = dict(odk.ODK_CASES).get(text)
        node = ex.parse(text)
        context = EvalContext(
            lookup=odk.VALUES.get,
            current=odk.current_for(text, expected),
            today=dt.date.fromisoformat(TODAY),
            now=odk.NOW,
            position=3,
            entries=lambda name: odk.ENTRIES.get(name, []),
            choice_rows=lambda name: odk.ROWS.get(name, []),
            choice_label=lambda q, code: odk.LABELS.get(q, {}).get(code),
        )
        result = ex.value_to_json(ex.evaluate(node, context))
        case = {
            "ast": ex.to_json(node),
            "values": {k: ex.value_to_json(v) for k, v in odk.VALUES.items()},
            "current": ex.value_to_json(odk.current_for(text, expected)),
            "today": TODAY,
            **extra,
        }
        cases.append((text, case, result))
    assert_agree(cases, node_eval)


def test_generated_digests_agree(node_eval) -> None:
    """MD5, SHA-1 and SHA-2 written out in JavaScript give hashlib's digests."""
    texts = [*collect(st.text(max_size=300), 60), "", "a" * 55, "a" * 56, "a" * 111, "a" * 112]
    node = ex.parse("digest(${a}, ${b}, ${c})")
    cases = []
    for i, text in enumerate(texts):
        for algorithm in ("MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"):
            refs = {"a": text, "b": algorithm, "c": ("hex", "base64")[i % 2]}
            case, expected = python_case(node, refs)
            cases.append((f"digest({text!r}, {algorithm})", case, expected))
    assert_agree(cases, node_eval)


def test_generated_base64_agrees(node_eval) -> None:
    """base64-decode() of any bytes, valid UTF-8 or not, gives the same text in both."""
    import base64

    blobs = collect(st.binary(max_size=24), 150)
    texts = [base64.b64encode(b).decode() for b in blobs] + ["", "====", "a===", "ab=c", "_-"]
    node = ex.parse("base64-decode(${a})")
    cases = [(f"base64-decode({t!r})", *python_case(node, {"a": t})) for t in texts]
    assert_agree(cases, node_eval)


PULLDATA_TABLES = {
    "people": [
        {"name": "a", "constructor": "built", "toString": "text", "phone": ""},
        {"name": "constructor", "age": "7"},
    ],
}
PULLDATA_EXPRESSIONS = [
    "pulldata('people', 'constructor', 'name', 'a')",
    "pulldata('people', 'toString', 'name', 'a')",
    "pulldata('people', 'hasOwnProperty', 'name', 'a')",
    "pulldata('people', '__proto__', 'name', 'a')",
    "pulldata('people', 'age', 'name', 'constructor')",
    "pulldata('people', 'name', 'valueOf', '')",
    "pulldata('people', 'name', 'toString', 'text')",
    "pulldata('constructor', 'name', 'name', 'a')",
    "pulldata('toString.csv', 'length', 'name', 'a')",
    "pulldata('people', 'phone', 'name', 'a')",
    "pulldata('people', 'phone', 'name', 'b')",
]


def test_pulldata_reads_only_the_tables_own_columns(node_eval) -> None:
    """A column or file named like a built-in (constructor, toString) is only the CSV's."""
    cases = []
    for text in PULLDATA_EXPRESSIONS:
        node = ex.parse(text)
        context = EvalContext(
            lookup={}.get, today=dt.date.fromisoformat(TODAY), tables=PULLDATA_TABLES
        )
        expected = ex.value_to_json(ex.evaluate(node, context))
        case = {"ast": ex.to_json(node), "values": {}, "today": TODAY, "tables": PULLDATA_TABLES}
        cases.append((text, case, expected))
    assert [expected for _, _, expected in cases[:2]] == ["built", "text"]
    assert_agree(cases, node_eval)


LAST_SAVED = {"fee": "no", "people": 4, "visit": dt.date(2025, 1, 31)}
LAST_SAVED_EXPRESSIONS = [
    "${last-saved#fee}",
    "${last-saved#people} + 1",
    "${last-saved#visit} + 1",
    "concat(${last-saved#missing}, '-')",
    "coalesce(${last-saved#missing}, ${name})",
]


def test_last_saved_defaults_agree(node_eval) -> None:
    """${last-saved#q} reads the last saved interview in both evaluators (empty without one)."""
    cases = []
    for text in LAST_SAVED_EXPRESSIONS:
        node = ex.parse(text)
        for saved in (LAST_SAVED, None):
            context = EvalContext(
                lookup={"name": "Aru"}.get,
                today=dt.date.fromisoformat(TODAY),
                last_saved=saved.get if saved else None,
            )
            expected = ex.value_to_json(ex.evaluate(node, context))
            case = {
                "ast": ex.to_json(node),
                "values": {"name": "Aru"},
                "today": TODAY,
                "lastSaved": {k: ex.value_to_json(v) for k, v in saved.items()} if saved else None,
            }
            cases.append((f"{text} ({'saved' if saved else 'none'})", case, expected))
    assert cases[0][2] == "no" and cases[1][2] == ""
    assert_agree(cases, node_eval)


def test_generated_randomize_seeds_agree(node_eval) -> None:
    """A seeded randomize() gives the same order in both, for any seed JavaRosa could be given."""
    seeds = collect(
        st.one_of(
            st.integers(-(2**70), 2**70).map(float),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(alphabet="0123456789.-e x", max_size=8),
        ),
        120,
    )
    node = ex.parse("join(' ', randomize(${a}, ${s}))")
    items = NodeSet(str(i) for i in range(23))
    cases = []
    for seed in seeds:
        case, expected = python_case(node, {"a": items, "s": seed})
        cases.append((f"randomize(0..22, {seed!r})", case, expected))
    assert_agree(cases, node_eval)


def test_generated_decimal_times_agree(node_eval) -> None:
    """decimal-time() reads the same times, zones and date-times in both, and refuses the same."""
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    zone = st.sampled_from(["", "Z", "+05:00", "-0330", "+24:00", "+05:60", "+5"])
    times = st.builds(
        lambda h, m, s, frac, z: f"{h}:{m}{s}{frac}{z}",
        two,
        two,
        st.one_of(st.just(""), two.map(lambda x: f":{x}")),
        st.sampled_from(["", ".5", ".123", ".98765"]),
        zone,
    )
    texts = collect(st.one_of(times, times.map(lambda t: f"2024-02-29T{t}")), 150)
    node = ex.parse("decimal-time(${a})")
    cases = [(f"decimal-time({t!r})", *python_case(node, {"a": t})) for t in texts]
    cases += [(f"decimal-time({t!r})", *python_case(node, {"a": t})) for t in ["", "x", "1:00"]]
    assert_agree(cases, node_eval)
