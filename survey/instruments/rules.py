"""The server's authority on an instrument's rules: relevance, required, choices, constraints,
calculations and repeat counts, applied to one set of answers.

The browser runs the same expressions live (static/js/form.js); this module decides what is stored.
Answers are plain values keyed by question name; a repeat is a list of such dicts.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from survey.instruments import expressions, piping
from survey.instruments.spec import Choice, InstrumentSpec, Question, Repeat

MAX_REPEAT_ENTRIES = 60


@dataclass(frozen=True)
class Messages:
    """Default messages in the user's language, for rules the XLSForm gives no text for."""

    required: str = "This question requires an answer."
    constraint: str = "This answer is not allowed."
    invalid_choice: str = "Choose one of the options shown."
    too_many_entries: str = f"At most {MAX_REPEAT_ENTRIES} entries can be added."


@dataclass
class Outcome:
    """Cleaned answers (non-relevant dropped, calculations recomputed) and errors by field key."""

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    repeat_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the answers can be stored."""
        return not self.errors


def field_key(name: str, repeat: str | None = None, index: int | None = None) -> str:
    """The form field name of a question: 'age', or 'member-0-member_age' inside a repeat.

    Inside a repeat in a repeat, `repeat` is the inner list's own field name, as in
    'household-0-member', giving 'household-0-member-1-age'."""
    return name if repeat is None else f"{repeat}-{index}-{name}"


def entries_under(container: Mapping[str, Any], path: Sequence[str]) -> list[Mapping[str, Any]]:
    """The entries of the last repeat of `path` (repeat names, outermost first) found below
    `container`, across every entry of the repeats before it, in document order."""
    level: list[Mapping[str, Any]] = [container]
    for name in path:
        level = [
            entry if isinstance(entry, Mapping) else {}
            for holder in level
            for entry in (holder.get(name) if isinstance(holder.get(name), list) else [])
        ]
    return level


@functools.lru_cache(maxsize=4096)
def compiled(text: str, choice_filter: bool = False) -> expressions.Node:
    """Parse once, reuse for every submission."""
    return expressions.parse(text, choice_filter=choice_filter)


def expression_value(question: Question | None, value: Any) -> Any:
    """A stored answer as the expression engine sees it (dates become date objects)."""
    if value is None or value == "" or value == []:
        return None
    if question is not None and question.type == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def stored_calculation(result: Any) -> Any:
    """How a calculation result is stored: numbers stay numbers, the rest becomes text."""
    if isinstance(result, expressions.NodeSet):
        result = result[0] if result else None
    if result is None:
        return None
    if isinstance(result, bool):
        return "true" if result else "false"
    if isinstance(result, int | float):
        if math.isnan(result) or math.isinf(result):
            return None
        return int(result) if float(result).is_integer() else round(float(result), 10)
    if isinstance(result, dt.date):
        return result.isoformat()
    text = expressions.to_string(result)
    return text or None


def _document_order(spec: InstrumentSpec) -> list[Any]:
    nodes: list[Any] = []
    for section in spec.sections:
        nodes.append(section)
        nodes.extend(section.items)
    return nodes


@functools.lru_cache(maxsize=64)
def evaluation_order(spec: InstrumentSpec) -> tuple[Any, ...]:
    """Sections, questions and repeats sorted so every expression's inputs come first."""
    nodes = _document_order(spec)
    owner: dict[str, int] = {}
    for i, node in enumerate(nodes):
        owner[node.name] = i
        if isinstance(node, Repeat):
            for inner in node.iter_repeats():
                owner[inner.name] = i
                for q in inner.questions:
                    owner[q.name] = i

    def refs(text: str | None, choice_filter: bool = False) -> set[str]:
        return set(expressions.references(compiled(text, choice_filter))) if text else set()

    deps: dict[int, set[int]] = {}
    for i, node in enumerate(nodes):
        names = refs(getattr(node, "relevant", None))
        if isinstance(node, Repeat):
            for inner in node.iter_repeats():
                names |= refs(inner.repeat_count) | refs(inner.relevant)
                for q in inner.questions:
                    names |= refs(q.relevant) | refs(q.calculation) | refs(q.choice_filter, True)
                    names |= refs(q.required_if) | refs(q.read_only_if)
        elif isinstance(node, Question):
            names |= refs(node.calculation) | refs(node.choice_filter, True)
            names |= refs(node.required_if) | refs(node.read_only_if)
        parents = set()
        if not hasattr(node, "items") and node.section is not None:
            parents.add(owner[node.section])
        deps[i] = ({owner[n] for n in names if n in owner} | parents) - {i}
    # Kahn's algorithm, document order among the ready ones; import refused cycles already.
    dependents: dict[int, set[int]] = {i: set() for i in deps}
    for i, ds in deps.items():
        for d in ds:
            dependents[d].add(i)
    waiting = {i: len(ds) for i, ds in deps.items()}
    ready = [i for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[Any] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for j in dependents[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):  # a cycle slipped through: fall back to document order
        order = nodes
    return tuple(order)


def repeat_values(
    spec: InstrumentSpec,
    answers: Mapping[str, Any],
    name: str,
    outer: Sequence[Sequence[Any]] = (),
    scope: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Any]:
    """A repeat question's value in each entry, in order (None where unanswered), for
    indexed-repeat(); a question outside repeats gives its one value.

    In a repeat inside a repeat, the outer levels are the entries `outer` names (pairs of
    repeat name and 1-based number, from indexed-repeat()'s further arguments), else the
    entries the expression runs in (`scope`, by repeat name), else all of them."""
    question = spec.questions_by_name.get(name)
    if question is None or question.repeat is None:
        return [expression_value(question, answers.get(name))]
    chosen = {str(repeat): index for repeat, index in outer}
    holders: list[Mapping[str, Any]] = [answers]
    chain = spec.repeat_chain(question.repeat)
    for level in chain[:-1]:
        if level.name in chosen:
            number = int(chosen[level.name]) if math.isfinite(chosen[level.name]) else 0
            holders = [
                entries[number - 1] if 1 <= number <= len(entries) else {}
                for entries in (entries_under(h, [level.name]) for h in holders)
            ]
        elif scope is not None and level.name in scope:
            holders = [scope[level.name]]
        else:
            holders = entries_under({"_": holders}, ["_", level.name])
    rows = [e for h in holders for e in entries_under(h, [question.repeat])]
    return [expression_value(question, e.get(name)) for e in rows]


def choice_rows(spec: InstrumentSpec, list_name: str, language: str) -> list[dict[str, str]]:
    """The rows of a choice list as instance('list')/root/item sees them: name, label, columns."""
    return [
        {**c.filters, "name": c.name, "label": spec.label(c.labels, language) or c.name}
        for c in spec.choices.get(spec.instance_list(list_name) or list_name, ())
    ]


def choice_label(spec: InstrumentSpec, question: str, code: str, language: str) -> str | None:
    """The label of a select question's choice, for jr:choice-name()."""
    found = spec.questions_by_name.get(question)
    for c in spec.choices.get(found.choice_list or "", ()) if found else ():
        if c.name == code:
            return spec.label(c.labels, language) or c.name
    return None


def allowed_choices(
    spec: InstrumentSpec, question: Question, lookup: Callable[[str], Any], today: dt.date
) -> tuple[Choice, ...]:
    """The choices offered for a select, after its choice_filter."""
    choices = spec.choices.get(question.choice_list or "", ())
    if not question.choice_filter:
        return choices
    node = compiled(question.choice_filter, True)
    return tuple(
        c
        for c in choices
        if expressions.evaluate_bool(
            node,
            expressions.EvalContext(
                lookup=lookup,
                choice={**c.filters, "name": c.name},
                today=today,
                tables=spec.lookup_tables,
            ),
        )
    )


class _Evaluator:
    def __init__(
        self,
        spec: InstrumentSpec,
        raw: Mapping[str, Any],
        language: str,
        today: dt.date,
        type_errors: Mapping[str, str],
        messages: Messages,
    ) -> None:
        self.spec = spec
        self.raw = raw
        self.language = language
        self.today = today
        self.type_errors = type_errors
        self.messages = messages
        self.outcome = Outcome()
        self.section_relevant: dict[str, bool] = {}
        self.position = 1  # the number of the repeat entry being evaluated, for position(..)
        # ${last-saved#name}: the answers of the last interview saved (defaults only).
        self.last_saved: Mapping[str, Any] = {}
        # The entries the expressions run in, by repeat name (outer ones of nested repeats too).
        self.scope: dict[str, Mapping[str, Any]] = {}

    # -- expression plumbing ------------------------------------------------------------------
    def below(self, holder: Mapping[str, Any], name: str, outer: str | None) -> Any:
        """A repeat's entry count, or a question's values, across the entries below `holder`
        (the answers when `outer` is None, else an entry of the repeat `outer`); None when
        the name is not below it."""
        repeat = self.spec.repeats_by_name.get(name)
        question = self.spec.questions_by_name.get(name)
        inner = repeat.name if repeat is not None else question.repeat if question else None
        names = [r.name for r in self.spec.repeat_chain(inner)]
        if outer is not None:
            if outer not in names or (repeat is not None and names[-1] == outer):
                return None
            names = names[names.index(outer) + 1 :]
        entries = entries_under(holder, names)
        if repeat is not None:
            return expressions.NodeSet(["1"] * len(entries))
        values = (expression_value(question, e.get(name)) for e in entries)
        return expressions.NodeSet(v for v in values if v is not None)

    def lookup_top(self, name: str) -> Any:
        answers = self.outcome.answers
        question = self.spec.questions_by_name.get(name)
        if name in self.spec.repeats_by_name or (question is not None and question.repeat):
            return self.below(answers, name, None)
        return expression_value(question, answers.get(name))

    def lookup_in(
        self,
        entry: Mapping[str, Any],
        repeat: str | None = None,
        parent: Callable[[str], Any] | None = None,
    ) -> Callable[[str], Any]:
        """Names as an entry of `repeat` sees them: its own answers, inner repeats' values
        across its inner entries, and the rest as the entry holding it (`parent`) sees them."""
        parent = parent or self.lookup_top
        ancestors = {r.name for r in self.spec.repeat_chain(repeat)}

        def lookup(name: str) -> Any:
            question = self.spec.questions_by_name.get(name)
            own = question.repeat if question is not None else None
            if own is not None and (own == repeat or (repeat is None and name in entry)):
                return expression_value(question, entry.get(name))
            if repeat is not None:
                found = self.below(entry, name, repeat)
                if found is not None:
                    return found
            if own is not None and own not in ancestors:
                return None
            return parent(name)

        return lookup

    def entries(self, name: str, outer: Sequence[Sequence[Any]] = ()) -> list[Any]:
        return repeat_values(self.spec, self.outcome.answers, name, outer, self.scope)

    def context(self, lookup: Callable[[str], Any], current: Any = None) -> Any:
        return expressions.EvalContext(
            lookup=lookup,
            current=current,
            today=self.today,
            tables=self.spec.lookup_tables,
            entries=self.entries,
            position=self.position,
            choice_rows=lambda name: choice_rows(self.spec, name, self.language),
            choice_label=lambda question, code: choice_label(
                self.spec, question, code, self.language
            ),
            last_saved=self.last_saved_value,
        )

    def last_saved_value(self, name: str) -> Any:
        question = self.spec.questions_by_name.get(name)
        if question is not None and question.repeat is not None:
            # ODK reads the first entry's answer through the last-saved instance's path.
            entries = self.last_saved.get(question.repeat) or [{}]
            first = entries[0] if isinstance(entries[0], Mapping) else {}
            return expression_value(question, first.get(name))
        return expression_value(question, self.last_saved.get(name))

    def truth(self, text: str | None, lookup: Callable[[str], Any], current: Any = None) -> bool:
        if not text:
            return True
        return expressions.evaluate_bool(compiled(text), self.context(lookup, current))

    def holds(self, text: str, lookup: Callable[[str], Any]) -> bool:
        """Whether a required or read_only expression holds (false when it cannot run)."""
        try:
            return expressions.evaluate_bool(compiled(text), self.context(lookup))
        except expressions.ExpressionError:
            return False

    def read_only(self, question: Question, lookup: Callable[[str], Any]) -> bool:
        return question.read_only or bool(
            question.read_only_if and self.holds(question.read_only_if, lookup)
        )

    def value_of(self, text: str, lookup: Callable[[str], Any], current: Any = None) -> Any:
        return expressions.evaluate(compiled(text), self.context(lookup, current))

    def error(self, key: str, message: str) -> None:
        self.outcome.errors.setdefault(key, []).append(message)

    # -- the walk ---------------------------------------------------------------------------
    def run(self) -> Outcome:
        for node in evaluation_order(self.spec):
            if hasattr(node, "items"):
                self.section_relevant[node.name] = self.truth(node.relevant, self.lookup_top)
            elif isinstance(node, Repeat):
                self.repeat(node)
            else:
                self.question(node, self.raw.get(node.name), node.name, self.lookup_top, None)
        return self.outcome

    def parent_relevant(self, node: Question | Repeat) -> bool:
        return node.section is None or self.section_relevant.get(node.section, True)

    def repeat(
        self,
        repeat: Repeat,
        holder: dict[str, Any] | None = None,
        raw: Mapping[str, Any] | None = None,
        outside: Callable[[str], Any] | None = None,
        key: str | None = None,
    ) -> None:
        """Clean one repeat's entries: a top-level one, or (with `holder`, the outer entry
        being cleaned, its `raw` answers, its lookup and field name) one inside a repeat."""
        answers = self.outcome.answers if holder is None else holder
        raw = self.raw if raw is None else raw
        outside = outside or self.lookup_top
        key = key or repeat.name
        relevant = holder is not None or self.parent_relevant(repeat)
        if not (relevant and self.truth(repeat.relevant, outside)):
            answers.pop(repeat.name, None)
            return
        raw_entries = raw.get(repeat.name) or []
        if not isinstance(raw_entries, list):
            raw_entries = []
        entries = [e if isinstance(e, Mapping) else {} for e in raw_entries]
        if repeat.repeat_count:
            wanted = expressions.to_number(self.value_of(repeat.repeat_count, outside))
            count = 0 if math.isnan(wanted) else max(0, min(int(wanted), MAX_REPEAT_ENTRIES))
            entries = (entries + [{}] * count)[:count]
        elif len(entries) > MAX_REPEAT_ENTRIES:
            self.error(key, self.messages.too_many_entries)
            entries = entries[:MAX_REPEAT_ENTRIES]
        self.outcome.repeat_counts[key] = len(entries)
        cleaned: list[dict[str, Any]] = []
        answers[repeat.name] = cleaned
        position = self.position
        for index, raw_entry in enumerate(entries):
            entry: dict[str, Any] = {}
            cleaned.append(entry)
            self.scope[repeat.name] = entry
            lookup = self.lookup_in(entry, repeat.name, outside)
            before, after = entry_order(repeat)
            for question in before:
                self.position = index + 1
                name = field_key(question.name, key, index)
                self.question(question, raw_entry.get(question.name), name, lookup, entry)
            for inner in repeat.repeats:
                self.repeat(inner, entry, raw_entry, lookup, f"{key}-{index}-{inner.name}")
            for question in after:
                self.position = index + 1
                name = field_key(question.name, key, index)
                self.question(question, raw_entry.get(question.name), name, lookup, entry)
        self.scope.pop(repeat.name, None)
        self.position = position
        if not cleaned:
            answers.pop(repeat.name, None)

    def question(
        self,
        question: Question,
        raw_value: Any,
        key: str,
        lookup: Callable[[str], Any],
        entry: dict[str, Any] | None,
    ) -> None:
        target = self.outcome.answers if entry is None else entry
        relevant = (question.repeat is not None or self.parent_relevant(question)) and self.truth(
            question.relevant, lookup
        )
        if not relevant or question.type == "note":
            target.pop(question.name, None)
            return
        if question.type == "calculate":
            # once() keeps the value the page computed, which it sends back as the answer.
            value = stored_calculation(
                self.value_of(question.calculation or "''", lookup, raw_value)
            )
            if value is not None:
                target[question.name] = value
            return
        value = None if raw_value in (None, "", []) else raw_value
        if self.read_only(question, lookup):
            # Not the volunteer's to change (ODK shows it, greyed): what the form itself gives,
            # its calculation or fixed default. Otherwise the value it holds stays, as in ODK:
            # a default evaluated at creation, as the page filled it in, or what was typed
            # before a read_only expression came to hold. Always read-only without a default,
            # it never had a value.
            if question.calculation:
                # As for a calculate question: once() keeps the value the page showed.
                value = stored_calculation(self.value_of(question.calculation, lookup, value))
            elif question.default is not None:
                value = question.default or None
            elif question.read_only and not question.default_expression:
                value = None
            if value is None:
                target.pop(question.name, None)
                return
            target[question.name] = value
            return
        if value is not None:
            target[question.name] = value
        if key in self.type_errors:
            self.error(key, self.type_errors[key])
            return
        if value is None:
            if question.required or (
                question.required_if and self.holds(question.required_if, lookup)
            ):
                message = self.spec.label(question.required_messages, self.language)
                message = piping.fill(message, self.context(lookup))
                self.error(key, message or self.messages.required)
            return
        if question.type in {"select_one", "select_multiple"}:
            offered = {c.name for c in allowed_choices(self.spec, question, lookup, self.today)}
            picked = value if isinstance(value, list) else [value]
            if any(code not in offered for code in picked):
                self.error(key, self.messages.invalid_choice)
                return
        if question.constraint and not self.truth(
            question.constraint, lookup, expression_value(question, value)
        ):
            message = self.spec.label(question.constraint_messages, self.language)
            message = piping.fill(message, self.context(lookup, expression_value(question, value)))
            self.error(key, message or self.messages.constraint)


@functools.lru_cache(maxsize=256)
def entry_order(repeat: Repeat) -> tuple[tuple[Question, ...], tuple[Question, ...]]:
    """Questions of an entry evaluated before its inner repeats, and those after them (which
    read the inner entries, as a count or sum over them does)."""
    inner = {n for r in repeat.repeats for i in r.iter_repeats() for n in _names_of(i)}
    before, after = [], []
    for question in _sibling_order(repeat):
        refs: set[str] = set()
        for text, cf in ((question.relevant, False), (question.calculation, False)):
            if text:
                refs |= set(expressions.references(compiled(text, cf)))
        (after if refs & inner else before).append(question)
    return tuple(before), tuple(after)


def _names_of(repeat: Repeat) -> set[str]:
    return {repeat.name} | {q.name for q in repeat.questions}


def _sibling_order(repeat: Repeat) -> tuple[Question, ...]:
    """Questions of a repeat sorted so siblings used in expressions come first."""
    names = {q.name for q in repeat.questions}
    index = {q.name: i for i, q in enumerate(repeat.questions)}
    deps: dict[int, set[int]] = {}
    for i, q in enumerate(repeat.questions):
        refs: set[str] = set()
        for text, cf in (
            (q.relevant, False),
            (q.calculation, False),
            (q.choice_filter, True),
            (q.required_if, False),
            (q.read_only_if, False),
        ):
            if text:
                refs |= set(expressions.references(compiled(text, cf)))
        deps[i] = {index[n] for n in refs & names} - {i}
    order: list[Question] = []
    done: set[int] = set()
    while len(done) < len(repeat.questions):
        progressed = False
        for i, q in enumerate(repeat.questions):
            if i not in done and deps[i] <= done:
                order.append(q)
                done.add(i)
                progressed = True
                break
        if not progressed:
            return repeat.questions
    return tuple(order)


def answer_lookups(spec: InstrumentSpec, answers: dict[str, Any], today: dt.date) -> Any:
    """The rules' lookups (lookup_top, lookup_in) over answers being filled in elsewhere
    (the demo's generator): they see the dict itself, not a copy."""
    evaluator = _Evaluator(spec, {}, spec.default_language, today, {}, Messages())
    evaluator.outcome.answers = answers
    return evaluator


def instance_name(spec: InstrumentSpec, answers: Mapping[str, Any], today: dt.date) -> str | None:
    """The settings sheet's instance_name evaluated over stored answers (None without one)."""
    if not spec.instance_name:
        return None
    evaluator = _Evaluator(spec, {}, spec.default_language, today, {}, Messages())
    evaluator.outcome.answers.update(answers)
    try:
        value = evaluator.value_of(spec.instance_name, evaluator.lookup_top)
    except expressions.ExpressionError:
        return None
    text = stored_calculation(value)
    return str(text)[:200] if text not in (None, "") else None


def default_values(
    spec: InstrumentSpec,
    answers: Mapping[str, Any],
    *,
    today: dt.date,
    last_saved: Mapping[str, Any] | None = None,
    repeat: str | None = None,
    index: int | None = None,
    path: Sequence[tuple[str, int]] = (),
) -> dict[str, str]:
    """The defaults given as expressions, evaluated once as ODK does when the interview (or,
    with `repeat`, its entry number `index`) is created: question name → text to show.

    An entry of a repeat inside a repeat is given by its `path` of (repeat, index) pairs,
    outermost first, as in text_context. `last_saved` holds the answers of the last interview
    saved, for ${last-saved#name}.
    """
    evaluator = _Evaluator(spec, {}, spec.default_language, today, {}, Messages())
    evaluator.outcome.answers.update(answers)
    evaluator.last_saved = last_saved or {}
    if repeat is not None and index is not None:
        path = [(repeat, index)]
    lookup = _lookup_at(evaluator, answers, path)
    owner = path[-1][0] if path else None
    out: dict[str, str] = {}
    for question in spec.iter_questions():
        if not question.default_expression or question.repeat != owner:
            continue
        try:
            value = stored_calculation(evaluator.value_of(question.default_expression, lookup))
        except expressions.ExpressionError:
            continue
        if value not in (None, ""):
            out[question.name] = str(value)
    return out


def _lookup_at(
    evaluator: _Evaluator, answers: Mapping[str, Any], path: Sequence[tuple[str, int]]
) -> Callable[[str], Any]:
    """How names read in the entry at `path` (the top when empty); the evaluator's scope and
    position are set to that entry. An entry not in the answers yet reads as empty."""
    lookup = evaluator.lookup_top
    holder: Mapping[str, Any] = answers
    for name, number in path:
        rows = holder.get(name) if isinstance(holder.get(name), list) else []
        holder = (
            rows[number] if 0 <= number < len(rows) and isinstance(rows[number], Mapping) else {}
        )
        evaluator.scope[name] = holder
        lookup = evaluator.lookup_in(holder, name, lookup)
        evaluator.position = number + 1
    return lookup


def last_saved_reader(spec: InstrumentSpec, last_saved: Mapping[str, Any]) -> Callable[[str], Any]:
    """How ${last-saved#name} reads the last saved answers (a repeat question: its first entry)."""
    evaluator = _Evaluator(spec, {}, spec.default_language, dt.date.today(), {}, Messages())
    evaluator.last_saved = last_saved
    return evaluator.last_saved_value


def text_context(
    spec: InstrumentSpec,
    answers: Mapping[str, Any],
    language: str,
    today: dt.date,
    repeat: str | None = None,
    index: int | None = None,
    path: Sequence[tuple[str, int]] = (),
) -> expressions.EvalContext:
    """Where a label's '${name}' finds its answer: the stored answers, or a repeat entry's
    (`repeat` and `index`, or the `path` of (repeat, index) pairs to an entry of a repeat
    inside a repeat, outermost first)."""
    evaluator = _Evaluator(spec, {}, language, today, {}, Messages())
    evaluator.outcome.answers.update(answers)
    if repeat is not None and index is not None:
        path = [(repeat, index)]
    return evaluator.context(_lookup_at(evaluator, answers, path))


def evaluate_answers(
    spec: InstrumentSpec,
    raw: Mapping[str, Any],
    *,
    language: str = "en",
    today: dt.date | None = None,
    type_errors: Mapping[str, str] | None = None,
    messages: Messages | None = None,
) -> Outcome:
    """Apply the rules to typed answers: what to keep, what to recompute, what is wrong."""
    return _Evaluator(
        spec, raw, language, today or dt.date.today(), type_errors or {}, messages or Messages()
    ).run()
