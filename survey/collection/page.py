"""What the form template and the browser's rule engine need, as plain values."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from flask_babel import gettext as _

from survey.collection.forms import SubmissionForm, question_field
from survey.instruments import expressions, piping
from survey.instruments.registry import (
    DATE_MESSAGE,
    DECIMAL_MESSAGE,
    DECIMAL_PATTERN,
    INTEGER_MESSAGE,
    INTEGER_PATTERN,
    LOCAL_DATE_PATTERN,
    RANK_MESSAGE,
    widget_for,
)
from survey.instruments.rules import (
    MAX_REPEAT_ENTRIES,
    Messages,
    choice_rows,
    compiled,
    last_saved_reader,
    text_context,
)
from survey.instruments.spec import InstrumentSpec, Question, Repeat


def _ast(text: str | None, choice_filter: bool = False) -> Any:
    return expressions.to_json(compiled(text, choice_filter)) if text else None


# The placeholder of an inner list's name in its entry template ('household-3-member').
TEMPLATE_LIST = "__LIST__"


def form_model(
    spec: InstrumentSpec,
    language: str,
    messages: Messages,
    last_saved: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The rules as JSON for static/js/form.js: ASTs, messages, choice filter columns.

    `last_saved` (the answers of the volunteer's last saved interview) gives the values that
    defaults read with ${last-saved#name}; only those are sent."""
    questions = {}
    for q in spec.iter_questions():
        questions[q.name] = {
            "type": q.type,
            "section": q.section,
            "repeat": q.repeat,
            "required": q.required,
            "relevant": _ast(q.relevant),
            "constraint": _ast(q.constraint),
            "calculation": _ast(q.calculation),
            "choiceFilter": _ast(q.choice_filter, True),
            "list": q.choice_list if q.choice_filter else None,
            "requiredMessage": spec.label(q.required_messages, language) or messages.required,
            "constraintMessage": spec.label(q.constraint_messages, language) or messages.constraint,
        }
        # required and read_only as expressions; a read-only question is not typed in.
        for key, value in (
            ("requiredIf", _ast(q.required_if)),
            ("readOnlyIf", _ast(q.read_only_if)),
            ("readOnly", q.read_only or None),
        ):
            if value:
                questions[q.name][key] = value
        # Evaluated by the page for each entry it adds and for each interview it starts
        # again offline (form.js fillDefaults, newInterview); the server fills its page.
        # A shuffled select whose seed is an expression: the page orders the sheet's codes
        # with it and again when the answers it reads change (the server drew the first order).
        seed = q.choice_seed
        if seed is not None:
            try:
                questions[q.name]["seed"] = _ast(seed)
                questions[q.name]["codes"] = [
                    c.name for c in spec.choices.get(q.choice_list or "", ())
                ]
            except expressions.ExpressionError:
                pass
        if q.default_expression:
            questions[q.name]["default"] = _ast(q.default_expression)
        elif q.default is not None:
            questions[q.name]["fixedDefault"] = q.default
        # Messages that show answers are filled in by the page from these parts.
        for key, texts in (
            ("requiredParts", q.required_messages),
            ("constraintParts", q.constraint_messages),
        ):
            parts = piping.to_json(spec.label(texts, language))
            if parts:
                questions[q.name][key] = parts
    filtered_lists = {q.choice_list for q in spec.iter_questions() if q.choice_filter}
    trees = _trees(spec, language)
    looked_up, named = _lookups(spec, trees)
    return {
        "questions": questions,
        "sections": {s.name: {"relevant": _ast(s.relevant)} for s in spec.sections},
        "repeats": {
            r.name: {
                "relevant": _ast(r.relevant),
                "count": _ast(r.repeat_count),
                "section": r.section,
                "parent": r.repeat,
            }
            for r in spec.iter_repeats()
        },
        "choices": {
            name: [{**c.filters, "name": c.name} for c in spec.choices.get(name, ())]
            for name in sorted(n for n in filtered_lists if n)
        },
        # instance('list') look-ups and jr:choice-name(), in the page's language.
        "lists": {name: choice_rows(spec, name, language) for name in sorted(looked_up)},
        "choiceLabels": {
            name: {row["name"]: row["label"] for row in choice_rows(spec, lst, language)}
            for name, lst in sorted(named.items())
        },
        "messages": asdict(messages),
        "intake": asdict(spec.intake),
        "today": dt.date.today().isoformat(),
        # pulldata()'s CSV attachments, for the browser's evaluator: only what it reads.
        "tables": _pulldata_tables(spec, trees),
        "lastSaved": _last_saved_values(spec, last_saved or {}),
        "words": browser_words(),
        "limits": browser_limits(),
    }


def _last_saved_values(spec: InstrumentSpec, last_saved: Mapping[str, Any]) -> dict[str, Any]:
    """The last saved answers that defaults read, as expression values (null without one: the
    page keeps the names, to read them from an interview it queues offline)."""
    names: set[str] = set()
    for q in spec.iter_questions():
        if q.default_expression:
            names |= expressions.last_saved_names(compiled(q.default_expression))
    read = last_saved_reader(spec, last_saved)
    return {name: expressions.value_to_json(read(name)) for name in sorted(names)}


def _trees(spec: InstrumentSpec, language: str) -> list[expressions.Node]:
    """Every expression the page evaluates: rules, and answers shown in texts (its language)."""
    trees: list[expressions.Node] = []
    for q in spec.iter_questions():
        for text in (q.relevant, q.constraint, q.calculation):
            if text:
                trees.append(compiled(text))
        if q.choice_filter:
            trees.append(compiled(q.choice_filter, True))
        if (seed := q.choice_seed) is not None:
            with contextlib.suppress(expressions.ExpressionError):
                trees.append(compiled(seed))
        for texts in (q.labels, q.hints, q.required_messages, q.constraint_messages):
            trees.extend(piping.nodes(spec.label(texts, language)))
    for node in (*spec.sections, *spec.iter_repeats()):
        if node.relevant:
            trees.append(compiled(node.relevant))
        trees.extend(piping.nodes(spec.label(node.labels, language)))
    for group in spec.groups:
        for texts in (group.labels, group.hints):
            trees.extend(piping.nodes(spec.label(texts, language)))
    for r in spec.iter_repeats():
        if r.repeat_count:
            trees.append(compiled(r.repeat_count))
    return trees


def _lookups(
    spec: InstrumentSpec, trees: list[expressions.Node]
) -> tuple[set[str], dict[str, str]]:
    """Choice lists read with instance(), and select questions read with jr:choice-name()
    (question -> its list), anywhere in the form's expressions and texts."""
    lists: set[str] = set()
    named: dict[str, str] = {}
    for tree in trees:
        lists |= expressions.instance_lists(tree)
        for name in expressions.choice_name_questions(tree):
            question = spec.questions_by_name.get(name)
            if question is not None and question.choice_list:
                named[name] = question.choice_list
    return lists, named


def _pulldata_tables(
    spec: InstrumentSpec, trees: list[expressions.Node]
) -> dict[str, list[dict[str, str]]]:
    """The CSV tables the page's pulldata() calls read, cut to the columns they read.

    A table may hold more than the form shows (phone numbers, names); every column sent is
    readable by anyone who opens the page. A column or file named by an expression rather than
    a literal could be any, so then the whole table (or every table) is sent.
    """
    wanted: dict[str | None, set[str] | None] = {}
    for tree in trees:
        for file, columns in expressions.pulldata_columns(tree).items():
            previous = wanted.get(file, set())
            wanted[file] = None if columns is None or previous is None else previous | columns
    tables = {}
    for name, rows in spec.lookup_tables.items():
        if name not in wanted and None not in wanted:
            continue
        columns = None if None in wanted else wanted[name]
        tables[name] = [
            {k: v for k, v in row.items() if columns is None or k in columns} for row in rows
        ]
    return tables


def browser_words() -> dict[str, str]:
    """What static/js/form.js says itself, from the same catalogues as the page ({n} etc. are
    filled in by the script)."""
    return {
        "step": _(
            "Section %(number)s of %(total)s: %(title)s",
            number="{n}",
            total="{total}",
            title="{title}",
        ),
        "saving": _("Saving…"),
        "integer": str(INTEGER_MESSAGE),
        "decimal": str(DECIMAL_MESSAGE),
        "date": str(DATE_MESSAGE),
        "rank": str(RANK_MESSAGE),
    }


def browser_limits() -> dict[str, Any]:
    """Constants the server enforces and the browser checks too, sent rather than copied."""
    return {
        "maxEntries": MAX_REPEAT_ENTRIES,
        # Python's and JavaScript's regular expressions agree on these simple patterns.
        "integer": INTEGER_PATTERN.pattern,
        "decimal": DECIMAL_PATTERN.pattern,
        "localDate": LOCAL_DATE_PATTERN.pattern,
    }


def interview_seed(interview: str, name: str) -> int:
    """A seed for a shuffled select without one: the same for the interview's every page (a
    post that comes back with errors keeps the order), different from one interview to the
    next, as ODK Collect draws a new order for each form it opens."""
    digest = hashlib.sha256(f"{interview}/{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2147483646 + 1


def choice_order(
    q: Question,
    codes: list[str],
    context: expressions.EvalContext | None,
    interview: str = "",
) -> list[str]:
    """The order a select's choices are shown in: the choices sheet's, or with randomize=true
    ODK's seeded shuffle (the seed evaluated like an expression, with the answers so far).
    Only the display changes: codes, stored answers and exports stay as they are."""
    if not q.shuffles_choices:
        return codes
    seed_text = q.choice_seed
    seed: object = interview_seed(interview, q.name)
    if seed_text is not None:
        seed = math.nan  # as an unreadable seed is in ODK: a number that is not one
        if context is not None:
            with contextlib.suppress(expressions.ExpressionError, TypeError, ValueError):
                seed = expressions.evaluate(compiled(seed_text), context)
    return expressions.shuffled_codes(codes, seed)


def _question_view(
    spec: InstrumentSpec,
    q: Question,
    field: Any,
    language: str,
    context: expressions.EvalContext | None = None,
    interview: str = "",
) -> dict:
    # Choice labels that show answers: as HTML beside radios and checkboxes (refilled live),
    # as text in a dropdown's options (which hold no markup).
    piped = {
        c.name: text
        for c in spec.choices.get(q.choice_list or "", ())
        if piping.has_pieces(text := spec.label(c.labels, language))
    }
    # The choices as shown: shuffled when the question says so (the form's script re-orders
    # them when a seed's answer changes).
    choices = list(getattr(field, "choices", None) or []) if q.choice_list else []
    by_code = {str(code): (code, text) for code, text in choices}
    order = choice_order(q, list(by_code), context, interview)
    return {
        "kind": "question",
        "question": q,
        "field": field,
        "choices": [by_code[code] for code in order],
        "widget": widget_for(q),
        "label": piping.render(spec.label(q.labels, language), context),
        "hint": piping.render(spec.label(q.hints, language), context),
        "choice_html": {code: piping.render(t, context) for code, t in piped.items()},
        "choice_text": {code: piping.fill(t, context) for code, t in piped.items()},
    }


def _with_groups(
    spec: InstrumentSpec,
    items: list[dict],
    language: str,
    context: expressions.EvalContext | None = None,
) -> list[dict]:
    """Items with a group_start before the first item of each nested group and a group_end
    after its last: the template opens and closes a fieldset there (groups nest in order).
    Group labels and hints show answers from the context, as their items' texts do."""
    out: list[dict] = []
    open_groups: list[str] = []
    for item in items:
        inner = item.get("repeat") or item.get("question")
        chain = spec.group_chain(inner.group if inner is not None else None)
        names = [g.name for g in chain]
        keep = 0
        while keep < min(len(open_groups), len(names)) and open_groups[keep] == names[keep]:
            keep += 1
        for _name in open_groups[keep:]:
            out.append({"kind": "group_end"})
        for group in chain[keep:]:
            out.append(
                {
                    "kind": "group_start",
                    "group": group,
                    "label": piping.render(spec.label(group.labels, language), context),
                    "hint": piping.render(spec.label(group.hints, language), context),
                }
            )
        open_groups = names
        out.append(item)
    out.extend({"kind": "group_end"} for _name in open_groups)
    return out


def page_sections(
    spec: InstrumentSpec,
    form: SubmissionForm,
    language: str,
    date_bounds: tuple[str, str, str] | None = None,
    answers: dict[str, Any] | None = None,
) -> list[dict]:
    """Sections with their questions and repeat entries, bound to the form's fields; the
    interview date gets the round's first and last day as its bounds. Texts show the answers
    known so far (answers, as rules.evaluate_answers cleaned them)."""
    known = answers or {}
    interview = form.instance_id.data or ""
    today = dt.date.today()
    top = text_context(spec, known, language, today)
    sections = []
    for section in spec.sections:
        items = []
        for item in section.items:
            if isinstance(item, Repeat):
                items.append(_repeat_view(spec, item, form, language, known, interview=interview))
            else:
                field = question_field(form, item.name)
                view = _question_view(spec, item, field, language, top, interview)
                if item.name == spec.intake.date_question and item.type == "date":
                    view["bounds"] = date_bounds
                items.append(view)
        sections.append(
            {
                "section": section,
                "label": piping.render(spec.label(section.labels, language), top) or spec.title,
                "items": _with_groups(spec, items, language, top),
                "repeats": [i for i in items if i["kind"] == "repeat"],
                "has_errors": any(_has_errors(i) for i in items),
            }
        )
    return sections


def _entry_items(
    spec: InstrumentSpec,
    repeat: Repeat,
    entry_form: Any,
    language: str,
    answers: dict[str, Any],
    path: list[tuple[str, int]],
    interview: str = "",
) -> list[dict]:
    """The views of one entry's questions and of the repeats inside it, in document order."""
    context = text_context(spec, answers, language, dt.date.today(), path=path)
    items = []
    for item in repeat.entry_items():
        if isinstance(item, Repeat):
            items.append(_repeat_view(spec, item, entry_form, language, answers, path, interview))
        else:
            field = question_field(entry_form, item.name)
            items.append(_question_view(spec, item, field, language, context, interview))
    return _with_groups(spec, items, language, context)


def _repeat_view(
    spec: InstrumentSpec,
    repeat: Repeat,
    form: SubmissionForm,
    language: str,
    answers: dict[str, Any],
    path: list[tuple[str, int]] | None = None,
    interview: str = "",
) -> dict:
    """A repeat's entries; inside an outer entry (`path` to it) its list is that entry's."""
    field = question_field(form, repeat.name)
    today = dt.date.today()
    outer = list(path or [])
    entries = [
        {
            "marker": entry.form.entry_marker,
            "items": _entry_items(
                spec,
                repeat,
                entry.form,
                language,
                answers,
                [*outer, (repeat.name, number)],
                interview,
            ),
        }
        for number, entry in enumerate(field.entries)
    ]
    # An empty entry with a placeholder index, cloned by the browser for "Add member"; inside
    # an outer entry the list's name is a placeholder too ('household-0-member' on the page).
    entry_class = field.unbound_field.args[0]
    template_list = repeat.name if path is None else TEMPLATE_LIST
    blank = entry_class(prefix=f"{template_list}-__INDEX__-", formdata=None)
    outside = text_context(spec, answers, language, today, path=outer)
    empty = text_context(spec, {**answers, repeat.name: []}, language, today, repeat.name, 0)
    template = {
        "list_name": template_list,
        "marker": blank.entry_marker,
        "items": _with_groups(
            spec,
            [
                _question_view(spec, q, question_field(blank, q.name), language, empty, interview)
                for q in repeat.questions
            ],
            language,
            empty,
        )
        if not repeat.repeats
        else _entry_items(
            spec,
            repeat,
            blank,
            language,
            {**answers, repeat.name: []},
            [(repeat.name, 0)],
            interview,
        ),
    }
    label = spec.label(repeat.labels, language)
    return {
        "kind": "repeat",
        "repeat": repeat,
        # The list's field name: 'member', or 'household-0-member' inside an outer entry,
        # which the add and remove buttons name.
        "list_name": field.name,
        "nested": path is not None,
        "field": field,
        "label": piping.render(label, outside),
        "label_text": piping.fill(label, outside),
        "hint": piping.render(spec.label(repeat.hints, language), outside),
        "entries": entries,
        "template": template,
        "errors": repeat_errors(field),
    }


def _has_errors(item: dict) -> bool:
    if item["kind"] == "repeat":
        return bool(repeat_errors(item["field"])) or any(
            _has_errors(i)
            for e in item["entries"]
            for i in e["items"]
            if i["kind"] in {"question", "repeat"}
        )
    return item["field"] is not None and bool(item["field"].errors)


def repeat_errors(field: Any) -> list[str]:
    """Messages about a repeat as a whole (WTForms also keeps per-entry dicts there)."""
    return [e for e in (field.errors or []) if isinstance(e, str)]
