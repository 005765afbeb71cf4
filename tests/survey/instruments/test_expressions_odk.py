"""The ODK XForms functions beyond the XPath core: predicates, repeats, choice look-ups, maths,
strings, dates and times, random values (Python side; test_expressions_js.py checks the twin)."""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.instruments.expressions import (
    Child,
    DateTime,
    EvalContext,
    ExpressionError,
    Filter,
    Instance,
    NodeSet,
    Position,
    Ref,
    choice_name_questions,
    evaluate,
    instance_lists,
    needs_context,
    parse,
    references,
    to_json,
    to_string,
    uses_current,
    value_from_json,
    value_to_json,
)

TODAY = dt.date(2024, 2, 29)
# 2024-02-29T14:46:40.123+05:00
NOW = DateTime(1709200000123.0, 300)
ROWS = {
    "fruit": [
        {"name": "a", "label": "Apple", "colour": "red"},
        {"name": "b", "label": "Banana", "colour": "yellow"},
        {"name": "c", "label": "Cherry", "colour": "red"},
    ]
}
LABELS = {"pick": {"a": "Apple", "b": "Banana"}}
VALUES: dict[str, object] = {
    "ages": NodeSet([30.0, 5.0, 19.0, 12.0]),
    "names": NodeSet(["Ann", "Bob", "Cy"]),
    "member": NodeSet(["1", "1", "1", "1"]),
    "pick": "b",
    "colour": "red",
    "dob": dt.date(2000, 1, 15),
    "n": 2.0,
    "empty": None,
    "trace": NodeSet(["0 0 0 0", "0 1 0 0"]),
    "letters": NodeSet("ABCDEF"),
    "digits": NodeSet(float(d) for d in range(10)),
}
ENTRIES = {"ages": [30.0, None, 19.0], "names": ["Ann", "Bob", "Cy"]}


def context(**changes: object) -> EvalContext:
    base = EvalContext(
        lookup=VALUES.get,
        today=TODAY,
        now=NOW,
        position=3,
        entries=lambda name: ENTRIES.get(name, []),
        choice_rows=lambda name: ROWS.get(name, []),
        choice_label=lambda question, code: LABELS.get(question, {}).get(code),
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def run(text: str, **changes: object) -> object:
    return evaluate(parse(text), context(**changes))


ODK_CASES: list[tuple[str, object]] = [
        # predicates
        ("count(${ages}[. >= 18])", 2.0),
        ("sum(${ages}[. < 18])", 17.0),
        ("${ages}[2]", NodeSet([5.0])),
        ("${ages}[last()]", NodeSet([12.0])),
        ("${ages}[position() > 2]", NodeSet([19.0, 12.0])),
        ("${ages}[. > 10][2]", NodeSet([19.0])),
        ("${names}[. = 'Bob' or . = 'Cy']", NodeSet(["Bob", "Cy"])),
        ("count(${ages}[. > ${n} * 10])", 1.0),
        ("${pick}[. = 'b']", NodeSet(["b"])),
        ("count(${empty}[. != ''])", 0.0),
        ("max(${ages}[. < 20])", 19.0),
        # repeats
        ("position(..)", 3.0),
        ("position(current()/..) - 1", 2.0),
        ("position()", 1.0),
        ("indexed-repeat(${ages}, ${member}, 1)", 30.0),
        ("indexed-repeat(${ages}, ${member}, 2)", ""),
        ("indexed-repeat(${names}, ${member}, ${n} + 1)", "Cy"),
        ("indexed-repeat(${names}, ${member}, 4)", ""),
        ("indexed-repeat(${names}, ${member}, 0)", ""),
        ("indexed-repeat(${names}, ${member}, 'x')", ""),
        # current() and relative paths
        ("current()", "cur"),
        ("current()/../pick", "b"),
        ("../../pick", "b"),
        ("/data/group/pick", "b"),
        # choice lists
        ("instance('fruit')/root/item[name = ${pick}]/label", NodeSet(["Banana"])),
        ("instance('fruit')/root/item[colour = ${colour}]/name", NodeSet(["a", "c"])),
        ("count(instance('fruit')/root/item)", 3.0),
        ("count(instance('fruit')/root/item[colour = 'red'][position() = 2])", 1.0),
        ("instance('fruit')/root/item[2]/label", NodeSet(["Banana"])),
        ("instance('none')/root/item/label", NodeSet([])),
        ("instance('fruit')/root/item[name = current()]/label", NodeSet(["Cherry"])),
        ("jr:choice-name(${pick}, '${pick}')", "Banana"),
        ("jr:itext(instance('fruit')/root/item[name = ${pick}]/itextId)", NodeSet(["Banana"])),
        ("jr:choice-name('a', '/data/pick')", "Apple"),
        ("jr:choice-name('zz', '${pick}')", ""),
        ("jr:choice-name(${empty}, '${pick}')", ""),
        # maths, as JavaScript's Math
        ("pow(2, 10)", 1024.0),
        ("pow(2, -1)", 0.5),
        ("pow(0, -1)", math.inf),
        ("pow(-(0), -3)", -math.inf),
        ("pow(-8, 1 div 3)", math.nan),
        ("pow(1, 1 div 0)", math.nan),
        ("pow(0 div 0, 0)", 1.0),
        ("pow(10, 400)", math.inf),
        ("pow(-10, 401)", -math.inf),
        ("exp10(2)", 100.0),
        ("sqrt(16)", 4.0),
        ("sqrt(-1)", math.nan),
        ("log(0)", -math.inf),
        ("log(-1)", math.nan),
        ("log10(1000)", 3.0),
        ("exp(0)", 1.0),
        ("exp(1000)", math.inf),
        ("sin(0)", 0.0),
        ("cos(0)", 1.0),
        ("tan(0)", 0.0),
        ("sin(1 div 0)", math.nan),
        ("asin(2)", math.nan),
        ("acos(1)", 0.0),
        ("atan(0)", 0.0),
        ("atan2(0, -1) = pi()", True),
        ("round(pi(), 4)", 3.1416),
        # strings
        ("substring-before('2024-02-29', '-')", "2024"),
        ("substring-before('abc', 'x')", ""),
        ("substring-before('abc', '')", ""),
        ("substring-after('2024-02-29', '-')", "02-29"),
        ("substring-after('abc', '')", "abc"),
        ("substring-after('abc', 'x')", ""),
        ("translate('bar', 'abc', 'ABC')", "BAr"),
        ("translate('--aaa--', 'a-', 'A')", "AAA"),
        ("translate('aba', 'aa', 'xy')", "xbx"),
        ("boolean-from-string('true')", True),
        ("boolean-from-string('1')", True),
        ("boolean-from-string('TRUE')", False),
        ("boolean-from-string('yes')", False),
        ("join(', ', ${names})", "Ann, Bob, Cy"),
        ("join('-', 'a', ${names}, 2)", "a-Ann-Bob-Cy-2"),
        ("count-non-empty(${names})", 3.0),
        ("count-non-empty(${empty})", 0.0),
        # bare true/false: ODK reads a path to a child node that does not exist
        ("FALSE", NodeSet()),
        ("TRUE", NodeSet()),
        ("boolean(TRUE)", False),
        ("true() and not(false)", True),
        ("age > 3", False),
        ("concat(null, 'x')", "x"),
        ("count(odktest.png)", 0.0),
        # once()
        ("once(1 + 1)", 2.0),
        ("once(1 + 1)", "kept"),
        # dates and times
        ("now()", NOW),
        ("string(now())", "2024-02-29T14:46:40.123+05:00"),
        ("date(now())", TODAY),
        ("format-date(today(), '%Y/%m/%d %y %n/%e %b %a')", "2024/02/29 24 2/29 Feb Thu"),
        ("format-date(${dob}, '%e %b, %Y')", "15 Jan, 2000"),
        ("format-date-time(now(), '%H:%M:%S.%3 %h')", "14:46:40.123 14"),
        ("format-date-time('2024-03-01T07:05:09', '%H:%M %d')", "07:05 01"),
        ("format-date-time('2024-03-01T07:05:09-03:30', '%H:%M')", "07:05"),
        ("format-date('x', '%Y')", ""),
        ("format-date(today(), '100%% %q')", "100%% %q"),
        (
            "format-date-time(date-time(floor(decimal-date-time(today())) + 3), '%Y-%m-%d')",
            "2024-03-03",
        ),
        ("decimal-date-time('2024-01-01')", 19723.0),
        ("decimal-date-time('1970-01-02T12:00:00Z')", 1.5),
        ("decimal-date-time('x')", math.nan),
        ("string(date-time(1.5))", "1970-01-02T12:00:00.000+00:00"),
        ("date-time('x')", ""),
        ("now() > today()", True),
        ("now() = '2024-02-29T09:46:40.123Z'", True),
        ("today() - date('2024-01-01')", 59.0),
        ("date(today() + 1)", dt.date(2024, 3, 1)),
        # digests
        ("digest('abc', 'SHA-256', 'hex')",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("digest('abc', 'MD5')", "kAFQmDzST7DWlj99KOF/cg=="),
        ("digest('abc', 'SHA-1', 'base64')", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
        ("string-length(digest('', 'SHA-512', 'hex'))", 128.0),
        ("digest('abc', 'sha-256')", ""),
        ("digest('abc', 'SHA-256', 'base32')", ""),
        # checklists and base64
        ("checklist(2, -1, ${names})", True),
        ("checklist(-1, 2, ${names})", False),
        ("checklist(1, 1, 'a', '', 0, 1 = 2)", True),
        ("weighted-checklist(5, 10, 'a', 3, '', 100, 1, 4)", True),
        ("weighted-checklist(-1, 6, 'a', 3, 'b', 4)", False),
        ("base64-decode('0JDQu9C80LDRgtGL')", "Алматы"),
        ("base64-decode('aGk=')", "hi"),
        ("base64-decode('aGk')", ""),
        ("base64-decode('/w==')", "\ufffd"),
        # geometry (Enketo's sphere, centimetres)
        ("distance('0 0 0 0; 0 1 0 0')", 111318.85),
        ("distance('0 0', '0 1', '1 1')", 222637.69),
        ("distance(${trace})", 111318.85),
        ("distance('0 0')", 0.0),
        ("distance('0 0; 95 0')", math.nan),
        ("distance('0 0; x 0')", math.nan),
        ("distance('50.45 30.52; 50.45 30.52')", 0.0),
        ("round(area('0 0; 0 1; 1 1; 1 0; 0 0') div 1000000, 1)", 12391.3),
        ("area('0 0; 0 1')", 0.0),
        ("area('')", math.nan),
        # randomize() with a seed: JavaRosa's own examples (FisherYatesExamplesTest)
        ("join('', randomize(${digits}, 33))", "3548201697"),
        ("join('', randomize(${digits}, 42))", "0591846372"),
        ("join('', randomize(${letters}, 42))", "AFCBDE"),
        ("join('', randomize(${letters}, -42))", "EDAFBC"),
        ("join('', randomize(${letters}, 1))", "BFEACD"),
        ("join('', randomize(${letters}, 11111111))", "ACDBFE"),
        # the seed is cast as Java casts a double to a long: truncated, NaN is 0, clamped
        ("join('', randomize(${letters}, 42.9)) = join('', randomize(${letters}, 42))", True),
        ("join('', randomize(${letters}, 'x')) = join('', randomize(${letters}, 0))", True),
        # 2^63 = 2 and -2^63 = -2 modulo 2^31 - 1; a seed of 0 (mod 2^31 - 1) becomes 2^31 - 2
        ("join('', randomize(${letters}, 1 div 0)) = join('', randomize(${letters}, 2))", True),
        (
            "join('', randomize(${letters}, -1 div 0)) = "
            "join('', randomize(${letters}, 2147483644))",
            True,
        ),
        (
            "join('', randomize(${letters}, 2147483647)) = "
            "join('', randomize(${letters}, 2147483646))",
            True,
        ),
        ("join('', randomize(${letters}, 2)) = join('', randomize(${letters}, 3))", False),
        ("randomize(${empty}, 3)", NodeSet([""])),
        ("randomize(${names}[. = 'none'])", NodeSet([])),
        ("count(randomize(${ages}))", 4.0),
        ("sum(randomize(${ages}))", 66.0),
        # decimal-time(): the fraction of the day the clock shows, as written
        ("decimal-time('12:00:00')", 0.5),
        ("decimal-time('18:00:00.000+03:00')", 0.75),
        ("decimal-time('06:00:00Z')", 0.25),
        ("decimal-time(' 00:00 ')", 0.0),
        ("decimal-time('23:59:59.999-05:30')", 86399999 / 86400000),
        ("decimal-time('2024-01-01T06:00:00+05:00')", math.nan),  # a dateTime, as in ODK
        ("decimal-time(now())", math.nan),
        ("decimal-time('24:00:00')", math.nan),
        ("decimal-time('12:60')", math.nan),
        ("decimal-time('12:00+24:00')", math.nan),
        ("decimal-time('noon')", math.nan),
        ("decimal-time(${dob})", math.nan),
        # string(), number() and normalize-space() without an argument read '.'
        ("string()", "cur"),
        ("normalize-space()", "cur"),
        ("number()", math.nan),
        ("${ages}[number() > 18]", NodeSet([30.0, 19.0])),
        ("${names}[string() = 'Bob']", NodeSet(["Bob"])),
]  # fmt: skip


def current_for(text: str, expected: object) -> object:
    """The answer of the question the case's expression belongs to."""
    if text.startswith("once"):
        return "kept" if expected == "kept" else None
    return "c" if "current()]" in text else "cur"


@pytest.mark.parametrize(("text", "expected"), ODK_CASES)
def test_odk_functions(text: str, expected: object) -> None:
    result = run(text, current=current_for(text, expected))
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(result, float) and math.isnan(result), (text, result)
    else:
        assert result == expected and type(result) is type(expected), (text, result)


def test_random_values_have_the_right_shape() -> None:
    uuids = {run("uuid()") for _ in range(20)}
    assert len(uuids) == 20
    shape = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert all(re.fullmatch(shape, u) for u in uuids)
    assert re.fullmatch(r"[0-9A-Za-z]{12}", run("uuid(12)"))
    assert run("uuid(0)") == "" and run("uuid('x')") == ""
    assert len(run("uuid(1000000000)")) == 1000
    draws = [run("random()") for _ in range(200)]
    assert all(0 <= d < 1 for d in draws) and len(set(draws)) == 200
    assert run("once(uuid())", current="fixed") == "fixed"


def test_now_defaults_to_the_clock() -> None:
    result = run("now()", now=None)
    assert isinstance(result, DateTime)
    assert abs(result.millis / 1000 - dt.datetime.now().timestamp()) < 5


def test_ast_shapes_references_and_json() -> None:
    node = parse("count(${ages}[. > ${n}])")
    assert references(node) == {"ages", "n"}
    assert isinstance(node.args[0], Filter)  # type: ignore[attr-defined]
    lookup = parse("instance('fruit')/root/item[name = ${pick}]/label")
    assert isinstance(lookup, Instance) and lookup.field == "label"
    assert references(lookup) == {"pick"} and instance_lists(lookup) == {"fruit"}
    assert to_json(lookup) == {
        "t": "inst",
        "l": "fruit",
        "p": [
            {"t": "op", "o": "=", "a": {"t": "col", "n": "name"}, "b": {"t": "ref", "n": "pick"}}
        ],
        "f": "label",
    }
    assert to_json(parse("position(..)")) == {"t": "pos"} and parse("position(..)") == Position()
    assert to_json(parse("FALSE")) == {"t": "child", "n": "FALSE"} and parse("FALSE") == Child(
        "FALSE"
    )
    assert choice_name_questions(parse("jr:choice-name(${pick}, ' ${pick} ')")) == {"pick"}
    assert uses_current(parse("once(1)")) and uses_current(parse("current()"))
    assert parse("current()/../a") == Ref("a")
    assert to_json(parse("${ages}[1]"))["t"] == "filter"
    assert value_from_json(value_to_json(NOW)) == NOW
    assert value_to_json(NOW) == {"datetime": [1709200000123.0, 300]}


def test_datetime_text_is_validated() -> None:
    for text in [
        "2024-02-30T10:00",
        "2024-01-01T24:00",
        "2024-01-01T10:60",
        "2024-01-01T10:00+25:00",
    ]:
        assert run(f"decimal-date-time('{text}')") != run("1"), text
        assert math.isnan(run(f"decimal-date-time('{text}')")), text
    assert to_string(run("date-time('0001-01-01')")) == "0001-01-01T00:00:00.000+00:00"
    assert run("date-time(-800000)") == ""


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="${}[]().'/ ab1=<>-,*", max_size=24))
def test_predicate_and_path_syntax_only_raises_expression_errors(text: str) -> None:
    problem = None
    try:
        parse(text)
    except ExpressionError as error:
        problem = error
    assert problem is None or (problem.message and problem.position is not None)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-50, 50), max_size=8),
    st.integers(-50, 50),
    st.integers(0, 9),
)
def test_predicates_select_as_python_does(ages: list[int], threshold: int, index: int) -> None:
    values = {"a": NodeSet(float(a) for a in ages), "t": float(threshold), "i": float(index)}
    ctx = context(lookup=values.get)
    kept = [float(a) for a in ages if a >= threshold]
    assert evaluate(parse("count(${a}[. >= ${t}])"), ctx) == float(len(kept))
    assert evaluate(parse("sum(${a}[. >= ${t}])"), ctx) == float(sum(kept))
    assert evaluate(parse("${a}[${i}]"), ctx) == NodeSet(
        [float(ages[index - 1])] if 1 <= index <= len(ages) else []
    )
    assert evaluate(parse("${a}[position() = last()]"), ctx) == NodeSet(
        [float(ages[-1])] if ages else []
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=3), max_size=12), st.integers(-(2**40), 2**40))
def test_randomize_is_a_permutation(items: list[str], seed: int) -> None:
    ctx = context(lookup={"a": NodeSet(items), "s": float(seed)}.get)
    seeded = evaluate(parse("randomize(${a}, ${s})"), ctx)
    assert isinstance(seeded, NodeSet) and sorted(seeded) == sorted(items)
    assert evaluate(parse("randomize(${a}, ${s})"), ctx) == seeded  # reproducible
    unseeded = evaluate(parse("randomize(${a})"), ctx)
    assert isinstance(unseeded, NodeSet) and sorted(unseeded) == sorted(items)


def test_unseeded_randomize_varies() -> None:
    orders = {run("join('', randomize(${letters}))") for _ in range(30)}
    assert len(orders) > 5
    # Chance: never memoised on the answers (a seeded shuffle may be).
    assert needs_context(parse("randomize(${letters})"))
    assert not needs_context(parse("randomize(${letters}, ${n})"))


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999),
    st.sampled_from(["", "Z", "+06:00", "-11:30", "+0545"]),
)
def test_decimal_time_is_the_fraction_of_the_day(h: int, m: int, s: int, ms: int, z: str) -> None:
    text = f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}{z}"
    expected = (((h * 60 + m) * 60 + s) * 1000 + ms) / 86_400_000
    assert run("decimal-time(${t})", lookup={"t": text}.get) == expected


def test_extract_signed_is_refused_with_a_reason() -> None:
    refusal = r"extract-signed\(\) at position 5 is not supported: checking the signature"
    with pytest.raises(ExpressionError, match=refusal):
        parse("1 + (extract-signed(${a}, 'key'))")


def test_a_form_using_extract_signed_is_refused_where_it_is_used() -> None:
    from survey.instruments.xlsform import InstrumentImportError, load_xlsform
    from tests.factories import xlsform_bytes

    workbook = xlsform_bytes(
        [
            ["type", "name", "label", "calculation"],
            ["text", "token", "Token", ""],
            ["calculate", "voucher", "", "extract-signed(${token}, 'bWFueWtleQ==')"],
        ]
    )
    with pytest.raises(InstrumentImportError) as refused:
        load_xlsform(workbook)
    problems = " ".join(refused.value.problems)
    where = "row 3, column 'calculation': "
    assert where + "extract-signed() at position 0 is not supported" in problems
