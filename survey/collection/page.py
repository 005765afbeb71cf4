"""What the form template and the browser's rule engine need, as plain values."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from flask_babel import gettext as _

from survey.collection.forms import SubmissionForm, question_field
from survey.instruments import expressions
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
from survey.instruments.rules import MAX_REPEAT_ENTRIES, Messages, compiled
from survey.instruments.spec import InstrumentSpec, Question, Repeat


def _ast(text: str | None, choice_filter: bool = False) -> Any:
    return expressions.to_json(compiled(text, choice_filter)) if text else None


def form_model(spec: InstrumentSpec, language: str, messages: Messages) -> dict[str, Any]:
    """The rules as JSON for static/js/form.js: ASTs, messages, choice filter columns."""
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
    filtered_lists = {q.choice_list for q in spec.iter_questions() if q.choice_filter}
    return {
        "questions": questions,
        "sections": {s.name: {"relevant": _ast(s.relevant)} for s in spec.sections},
        "repeats": {
            r.name: {
                "relevant": _ast(r.relevant),
                "count": _ast(r.repeat_count),
                "section": r.section,
            }
            for r in spec.iter_repeats()
        },
        "choices": {
            name: [{**c.filters, "name": c.name} for c in spec.choices.get(name, ())]
            for name in sorted(n for n in filtered_lists if n)
        },
        "messages": asdict(messages),
        "intake": asdict(spec.intake),
        "today": dt.date.today().isoformat(),
        "words": browser_words(),
        "limits": browser_limits(),
    }


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


def _question_view(spec: InstrumentSpec, q: Question, field: Any, language: str) -> dict:
    return {
        "kind": "question",
        "question": q,
        "field": field,
        "widget": widget_for(q),
        "label": spec.label(q.labels, language),
        "hint": spec.label(q.hints, language),
    }


def _with_groups(spec: InstrumentSpec, items: list[dict], language: str) -> list[dict]:
    """Items with a group_start before the first item of each nested group and a group_end
    after its last: the template opens and closes a fieldset there (groups nest in order)."""
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
                    "label": spec.label(group.labels, language),
                    "hint": spec.label(group.hints, language),
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
) -> list[dict]:
    """Sections with their questions and repeat entries, bound to the form's fields; the
    interview date gets the round's first and last day as its bounds."""
    sections = []
    for section in spec.sections:
        items = []
        for item in section.items:
            if isinstance(item, Repeat):
                items.append(_repeat_view(spec, item, form, language))
            else:
                view = _question_view(spec, item, question_field(form, item.name), language)
                if item.name == spec.intake.date_question and item.type == "date":
                    view["bounds"] = date_bounds
                items.append(view)
        sections.append(
            {
                "section": section,
                "label": spec.label(section.labels, language) or spec.title,
                "items": _with_groups(spec, items, language),
                "repeats": [i for i in items if i["kind"] == "repeat"],
                "has_errors": any(_has_errors(i) for i in items),
            }
        )
    return sections


def _repeat_view(spec: InstrumentSpec, repeat: Repeat, form: SubmissionForm, language: str) -> dict:
    field = question_field(form, repeat.name)
    entries = []
    for entry in field.entries:
        entries.append(
            {
                "marker": entry.form.entry_marker,
                "items": _with_groups(
                    spec,
                    [
                        _question_view(spec, q, question_field(entry.form, q.name), language)
                        for q in repeat.questions
                    ],
                    language,
                ),
            }
        )
    # An empty entry with a placeholder index, cloned by the browser for "Add member".
    entry_class = field.unbound_field.args[0]
    blank = entry_class(prefix=f"{repeat.name}-__INDEX__-", formdata=None)
    template = {
        "marker": blank.entry_marker,
        "items": _with_groups(
            spec,
            [
                _question_view(spec, q, question_field(blank, q.name), language)
                for q in repeat.questions
            ],
            language,
        ),
    }
    return {
        "kind": "repeat",
        "repeat": repeat,
        "field": field,
        "label": spec.label(repeat.labels, language),
        "hint": spec.label(repeat.hints, language),
        "entries": entries,
        "template": template,
        "errors": repeat_errors(field),
    }


def _has_errors(item: dict) -> bool:
    if item["kind"] == "repeat":
        return bool(repeat_errors(item["field"])) or any(
            i["field"] is not None and i["field"].errors
            for e in item["entries"]
            for i in e["items"]
            if i["kind"] == "question"
        )
    return item["field"] is not None and bool(item["field"].errors)


def repeat_errors(field: Any) -> list[str]:
    """Messages about a repeat as a whole (WTForms also keeps per-entry dicts there)."""
    return [e for e in (field.errors or []) if isinstance(e, str)]
