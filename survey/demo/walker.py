"""The generic walker: answers for any instrument, as the volunteer's web form could store them.

`generate_answers` walks an instrument in the order of `rules.evaluation_order` and picks values
the web form could have stored: only relevant questions, choices after their choice_filter,
values that pass their constraints, calculations recomputed, so that
`rules.evaluate_answers(spec, answers).answers == answers` with no errors.

A `DemoProfile` decides what is plausible; this generic one suits any instrument (see
survey.demo.birge for the default instrument's). Profiles look questions up by name and fall
back to the generic choice when a name or code is missing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from random import Random
from typing import Any

from reports.instrument import SPECIAL_CODES
from survey.collection.services import identifier_in_answer
from survey.demo.plan import Plan, QuestionPlan, RepeatPlan, plan_for
from survey.instruments import expressions, rules
from survey.instruments.pattern_text import text_matching
from survey.instruments.spec import InstrumentSpec, Question, Repeat

EXCLUSIVE_CODES = ("none", *SPECIAL_CODES)  # codes a select_multiple constraint keeps alone
_TRIES = 16  # attempts at one question before the whole submission is generated again
_SUBMISSION_TRIES = 50
_PATTERN_TRIES = 8  # texts drawn from a regex() constraint before the attempt counts as failed

GENERIC: Any = object()
"""Returned by a profile hook that has no opinion: the generic choice is used instead."""


class DemoDataError(RuntimeError):
    """Demo answers cannot be generated for this instrument (or a generated one is invalid)."""


class _Regenerate(Exception):
    """A required question found no valid value: start the submission again."""


# -- profiles ---------------------------------------------------------------------------------


class DemoState:
    """What a profile hook sees: the answers so far, the question, the codes it may pick."""

    __slots__ = (
        "allowed",
        "answers",
        "day",
        "entry",
        "index",
        "offered",
        "person",
        "question",
        "rng",
        "spec",
        "today",
    )

    def __init__(self, spec: InstrumentSpec, rng: Random, day: dt.date, today: dt.date) -> None:
        self.spec = spec
        self.rng = rng
        self.day = day
        self.today = today
        self.answers: dict[str, Any] = {}
        self.person: Any = None
        self.question: Question | None = None
        self.allowed: tuple[str, ...] = ()
        self.offered: frozenset[str] = frozenset()
        self.entry: dict[str, Any] | None = None
        self.index = -1

    def pick(self, weights: Mapping[str, float]) -> Any:
        """One code drawn by weight among those offered; GENERIC when none is offered."""
        # A hand-rolled draw: random.choices costs more than the rest of a typical question.
        offered = self.offered
        total = 0.0
        items: list[tuple[str, float]] = []
        for code, weight in weights.items():
            if weight > 0 and code in offered:
                total += weight
                items.append((code, total))
        if not items:
            return GENERIC
        x = self.rng.random() * total
        for code, cumulative in items:
            if x < cumulative:
                return code
        return items[-1][0]

    def subset(self, chances: Mapping[str, float], empty: str = "none") -> Any:
        """Each offered code with its own chance, in the form's order; [empty] if none drawn."""
        rng = self.rng
        picked = [c for c in self.allowed if c in chances and rng.random() < chances[c]]
        if picked:
            return picked
        return [empty] if empty in self.offered else GENERIC

    def maybe(self, dnk: float = 0.0, pnta: float = 0.0) -> str | None:
        """'dnk' or 'pnta' with these chances (when offered), else None."""
        draw = self.rng.random()
        if draw < dnk and "dnk" in self.offered:
            return "dnk"
        if draw < dnk + pnta and "pnta" in self.offered:
            return "pnta"
        return None


class DemoProfile:
    """Plausible answers for any instrument: uniform choices, a little 'dnk'/'pnta', few skips."""

    name = "generic"
    skip_optional = 0.03  # share of optional questions left unanswered
    dnk = 0.03
    pnta = 0.02

    def __init__(self) -> None:
        # Question name -> hook(state) returning its answer, GENERIC or None (unanswered).
        self.hooks: dict[str, Callable[[DemoState], Any]] = {}

    def begin(self, state: DemoState) -> Any:
        """Draw the respondent behind one submission (kept as state.person)."""
        return None

    def entries(self, repeat: Repeat, state: DemoState) -> int:
        """How many entries a repeat without repeat_count gets."""
        return state.rng.choice((1, 1, 2, 2, 3, 4))

    def language(self, state: DemoState) -> str:
        """The interface language the submission was entered in."""
        for code in ("ru", "kk"):
            if code in state.spec.languages and state.rng.random() < 0.5:
                return code
        return state.spec.default_language or (state.spec.languages or ("en",))[0]

    def message(self, state: DemoState) -> str:
        """A short, harmless free-text answer."""
        return state.rng.choice(_GENERIC_TEXTS)

    def media(self, question: Question, state: DemoState) -> Any:
        """The answer of a photo, audio, video or file question: demo data hold no files."""
        return None


_GENERIC_TEXTS = (
    "Нет комментариев.",
    "Все хорошо, спасибо.",
    "Жоқ, рахмет.",
    "No further comments.",
    "Нужна помощь с лекарствами.",
)


# -- the walk ---------------------------------------------------------------------------------


class _Walk:
    """One submission being generated; mirrors rules._Evaluator step by step."""

    def __init__(self, plan: Plan, state: DemoState, profile: DemoProfile) -> None:
        self.plan = plan
        self.state = state
        self.profile = profile
        self.hooks = profile.hooks
        self.answers = state.answers
        self.sections: dict[str, bool] = {}

    # lookups: identical to rules._Evaluator.lookup_top / lookup_in
    def lookup_top(self, name: str) -> Any:
        answers = self.answers
        question = self.plan.questions.get(name)
        inner = self.plan.repeats.get(question.repeat if question else name)
        if inner is not None and (inner.repeat is not None or inner.repeats):
            found = rules.answer_lookups(self.plan.spec, answers, self.plan.today)
            return found.lookup_top(name)
        if name in self.plan.repeats:
            return expressions.NodeSet(["1"] * len(answers.get(name) or []))
        if question is not None and question.repeat is not None:
            entries = answers.get(question.repeat) or []
            return expressions.NodeSet(
                v
                for v in (rules.expression_value(question, e.get(name)) for e in entries)
                if v is not None
            )
        return rules.expression_value(question, answers.get(name))

    def lookup_in(
        self, entry: Mapping[str, Any], plan: RepeatPlan, outside: Callable[[str], Any]
    ) -> Callable[[str], Any]:
        questions = self.plan.questions
        if plan.repeat.repeat is not None or plan.repeat.repeats:
            # Repeats in repeats: the rules' own lookups over the answers being generated.
            found = rules.answer_lookups(self.plan.spec, self.answers, self.plan.today)
            return found.lookup_in(entry, plan.repeat.name, outside)

        def lookup(name: str) -> Any:
            question = questions.get(name)
            if question is not None and question.repeat is not None:
                return rules.expression_value(question, entry.get(name)) if name in entry else None
            return self.lookup_top(name)

        return lookup

    def run(self) -> dict[str, Any]:
        self.state.person = self.profile.begin(self.state)
        answers, sections, lookup = self.answers, self.sections, self.lookup_top
        for kind, step in self.plan.steps:
            if kind == "question":
                self.question(step, lookup, None)
            elif kind == "section":
                name, relevant = step
                sections[name] = relevant is None or relevant.truth(lookup, answers, None)
            else:
                self.repeat(step)
        return answers

    def repeat(
        self,
        plan: RepeatPlan,
        holder: dict[str, Any] | None = None,
        outside: Callable[[str], Any] | None = None,
    ) -> None:
        repeat, answers = plan.repeat, self.answers
        target = answers if holder is None else holder
        outside = outside or self.lookup_top
        if not (
            holder is not None or repeat.section is None or self.sections.get(repeat.section, True)
        ) or (plan.relevant is not None and not plan.relevant.truth(outside, answers, holder)):
            return
        if plan.count is not None:
            wanted = expressions.to_number(plan.count.value(outside, answers, holder))
            count = 0 if math.isnan(wanted) else int(wanted)
        else:
            self.state.question = None
            count = self.profile.entries(repeat, self.state)
        count = max(0, min(count, rules.MAX_REPEAT_ENTRIES))
        entries: list[dict[str, Any]] = []
        target[repeat.name] = entries  # the rules count entries while filling them too
        for index in range(count):
            entry: dict[str, Any] = {}
            entries.append(entry)
            self.state.index = index
            lookup = self.lookup_in(entry, plan, outside)
            for question in plan.questions:
                self.question(question, lookup, entry)
            for inner in plan.inner:
                self.repeat(inner, entry, lookup)
                self.state.index = index
            for question in plan.after:
                self.question(question, lookup, entry)
        self.state.index, self.state.entry = -1, None
        if not entries:
            del target[repeat.name]

    def question(
        self, plan: QuestionPlan, lookup: Callable[[str], Any], entry: dict[str, Any] | None
    ) -> None:
        kind = plan.kind
        if kind == "note":
            return
        q, answers = plan.question, self.answers
        if entry is None and q.section is not None and not self.sections.get(q.section, True):
            return
        if plan.relevant is not None and not plan.relevant.truth(lookup, answers, entry):
            return
        target = answers if entry is None else entry
        own = plan.calculation
        if plan.read_only is not None and plan.read_only.truth(lookup, answers, entry):
            own = plan.own_value  # read-only now: nothing is typed (rules.py)
        if own is not None:
            value = rules.stored_calculation(own.value(lookup, answers, entry))
            if value is not None:
                target[q.name] = value
            return
        state = self.state
        state.question, state.entry = q, entry
        if plan.filter_refs or plan.question.choice_filter:
            state.allowed, offered = self.plan.offered(plan, lookup)
        else:
            state.allowed, offered = plan.codes, plan.code_set
        state.offered = offered
        hook = self.hooks.get(q.name)
        for attempt in range(_TRIES):
            if hook is not None and attempt < _TRIES // 2:
                value = hook(state)
                if value is GENERIC:
                    value = _generic_value(plan, state, self.profile)
            else:
                value = _generic_value(plan, state, self.profile)
            if kind == "select_multiple" and type(value) is str:
                value = [value]  # a hook may name one code; the form stores a list
            if value is None or value == []:
                if not q.required:
                    return
                if plan.patterns and hook is None:
                    break  # _matching_text has made its draws: start the submission again
                continue
            if plan.code_set and (
                value not in offered
                if type(value) is str
                else not all(type(c) is str and c in offered for c in value)
            ):
                continue
            target[q.name] = value
            if plan.constraint is None or plan.constraint.truth(
                lookup, answers, entry, rules.expression_value(q, value)
            ):
                return
            del target[q.name]
        if q.required:
            raise _Regenerate(q.name)


_NUMBER_LITERAL = re.compile(r"(?<![\w.$])\d+(?:\.\d+)?(?![\w.])")

# Plausible values of the types that need no plan: times, places on a ~1 km grid, codes.
_FIXED_VALUES: dict[str, Callable[[DemoState], Any]] = {
    "time": lambda state: (
        f"{state.rng.randint(8, 19):02d}:{state.rng.choice((0, 15, 30, 45)):02d}:00"
    ),
    "datetime": lambda state: f"{state.day.isoformat()}T{state.rng.randint(8, 19):02d}:30:00",
    "geopoint": lambda state: f"50.{state.rng.randint(10, 99)} 80.{state.rng.randint(10, 99)} 0 0",
    "geotrace": lambda state: "50.41 80.23 0 0; 50.42 80.24 0 0",
    "geoshape": lambda state: "50.41 80.23 0 0; 50.42 80.24 0 0; 50.43 80.22 0 0; 50.41 80.23 0 0",
    "barcode": lambda state: f"BRG-{state.rng.randint(1000, 9999)}",
}


def _generic_value(plan: QuestionPlan, state: DemoState, profile: DemoProfile) -> Any:
    """A plausible value of the question's type; None leaves an optional question unanswered."""
    q, rng = plan.question, state.rng
    intake = state.spec.intake
    kind = q.type
    if q.name == intake.consent_question and intake.consent_value in state.offered:
        return intake.consent_value  # demo data are interviews, never refusals
    if not q.required and q.name != intake.age_question and rng.random() < profile.skip_optional:
        return None
    if kind == "select_one":
        special = state.maybe(profile.dnk, profile.pnta)
        if special is not None:
            return special
        regular = [c for c in state.allowed if c not in {"dnk", "pnta"}]
        return rng.choice(regular or state.allowed) if state.allowed else None
    if kind == "select_multiple":
        if not state.allowed:
            return None
        regular = [c for c in state.allowed if c not in EXCLUSIVE_CODES]
        exclusive = [c for c in state.allowed if c in EXCLUSIVE_CODES]
        if exclusive and (not regular or rng.random() < 0.15):
            return [rng.choices(exclusive, [{"none": 7, "dnk": 2}.get(c, 1) for c in exclusive])[0]]
        size = min(len(regular), rng.choices((1, 2, 3), (5, 3, 2))[0])
        chosen = set(rng.sample(regular, size))
        return [c for c in state.allowed if c in chosen]  # the form posts them in its order
    if kind in {"integer", "decimal"}:
        literals = _NUMBER_LITERAL.findall(q.constraint or "")
        unbounded = plan.low is None and plan.high is None
        if literals and unbounded and q.name != intake.age_question and rng.random() < 0.5:
            # Constraints the plan cannot bound ('. = 0 or . >= 9999') hold at their own numbers.
            number = float(rng.choice(literals))
            if kind == "integer" and number.is_integer():
                return int(number)
            if kind == "decimal":
                return number
        low = plan.low if plan.low is not None else 0
        high = plan.high if plan.high is not None else low + 100
        if q.name == intake.age_question:
            low, high = max(low, intake.minimum_age), min(high, max(low, 90))
        if kind == "integer":
            low, high = math.ceil(low), math.floor(high)
            return rng.randint(int(low), int(high)) if low <= high else None
        return round(rng.uniform(low, high), 2) if low <= high else None
    if kind == "date":
        if rng.random() < 0.5 or "date" in q.name:
            return state.day.isoformat()
        return (state.day - dt.timedelta(days=rng.randint(0, 80 * 365))).isoformat()
    if kind == "text":
        if q.required or rng.random() < 0.25:
            return _matching_text(plan, state) if plan.patterns else profile.message(state)
        return None
    if kind == "acknowledge":
        return "OK"
    if kind == "rank":
        return list(state.allowed) or None
    if kind in _FIXED_VALUES:
        return _FIXED_VALUES[kind](state)
    if kind == "range":
        start = float(q.parameters.get("start", "1"))
        end = float(q.parameters.get("end", "10"))
        step = float(q.parameters.get("step", "1"))
        value = start + step * rng.randint(0, max(0, int((end - start) // step)))
        if all(float(v).is_integer() for v in (start, step)):
            return int(value)
        # 0.1 * 17 is 1.7000000000000002: keep the step's decimals, as a volunteer types it.
        decimals = max(len(str(v).partition(".")[2]) for v in (start, step))
        return round(value, decimals)
    if q.is_metadata or kind == "hidden":
        return None  # filled by the device or the server, never by a volunteer
    if kind in {"image", "audio", "video", "file"}:
        value = profile.media(q, state)
        if value is not None or not q.required:
            return value
    if q.required:
        raise DemoDataError(f"Cannot generate answers of type {kind!r} ({q.name}).")
    return None


def _matching_text(plan: QuestionPlan, state: DemoState) -> str | None:
    """A text the question's regex() constraint accepts and the screening of free text lets
    through (a pattern of digits can draw an ID or phone number); None when none is found."""
    for _attempt in range(_PATTERN_TRIES):
        text = text_matching(plan.patterns, state.rng)
        if text is None:
            return None
        if identifier_in_answer(state.spec, plan.question.name, text) is None:
            return text
    return None


def generate_answers(
    spec: InstrumentSpec,
    rng: Random,
    *,
    profile: DemoProfile,
    day: dt.date | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """One submission's answers as the web form would store them (interview held on `day`)."""
    today = today or dt.date.today()
    day = min(day or today, today)
    plan = plan_for(spec, today)
    for _attempt in range(_SUBMISSION_TRIES):
        state = DemoState(spec, rng, day, today)
        try:
            return _Walk(plan, state, profile).run()
        except _Regenerate:
            continue
    raise DemoDataError(
        f"No valid answers for {spec.form_id} after {_SUBMISSION_TRIES} attempts: a required "
        "question has no value that passes its constraint."
    )
