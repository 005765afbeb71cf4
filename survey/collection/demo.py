"""Synthetic demo submissions: realistic answers for any instrument, stored fast.

`generate_answers` walks an instrument in the order of `rules.evaluation_order` and picks values
the volunteer's web form could have stored: only relevant questions, choices after their
choice_filter, values that pass their constraints, calculations recomputed, so that
`rules.evaluate_answers(spec, answers).answers == answers` with no errors. Expressions are
memoised on the values they refer to (the engine is pure): generating a default-instrument
submission costs about 0.35 ms, a third of one `evaluate_answers` run on it, which is kept
for a sample (every 500th, and in the tests).

A `DemoProfile` decides what is plausible. The generic profile suits any instrument; the profile
of the default instrument adds the skews of DOMAIN.md §1, §3–§5 (Abai region, older first
generation, more women, certificate gaps, health and distress patterns, needs ranking). It looks
questions up by name and falls back to the generic choice when a name or code is missing.

`write_demo_data` stores many submissions with SQLAlchemy Core, one transaction per batch: it is
a bulk loader, so unlike the other services it commits.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import functools
import itertools
import math
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from sqlalchemy import insert, select

from survey.collection.models import Submission, SurveyRound
from survey.collection.privacy import RECEIPT_ALPHABET, RECEIPT_LENGTH
from survey.collection.services import answers_digest, refusal_reason
from survey.extensions import db
from survey.instruments import expressions, rules
from survey.instruments.models import InstrumentVersion
from survey.instruments.services import spec_for
from survey.instruments.spec import InstrumentSpec, Question, Repeat, Section
from survey.users.models import User

DEFAULT_FORM_ID = "birge_needs_assessment"
DEFAULT_BATCH_SIZE = 2000
CHUNK_SIZE = 500  # fixed: the data of a seed must not depend on batch size or workers
SOURCE = "demo"
EXCLUSIVE_CODES = ("none", "dnk", "pnta")  # codes a select_multiple constraint keeps alone
_MEMO_LIMIT = 200_000  # entries per expression; far above what the default instrument needs
_TRIES = 16  # attempts at one question before the whole submission is generated again
_SUBMISSION_TRIES = 50
# Interviews happen in daytime in Kazakhstan (UTC+5); times are stored in UTC.
_LOCAL_OFFSET = dt.timedelta(hours=5)

GENERIC: Any = object()
"""Returned by a profile hook that has no opinion: the generic choice is used instead."""


class DemoDataError(RuntimeError):
    """Demo answers cannot be generated for this instrument (or a generated one is invalid)."""


class _Regenerate(Exception):
    """A required question found no valid value: start the submission again."""


# -- memoised expressions ---------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a looked-up value; kinds the engine treats differently differ."""
    if value is None or type(value) in (str, int, float):
        return value
    if isinstance(value, expressions.NodeSet):
        return ("nodeset", *(_freeze(v) for v in value))
    if isinstance(value, list | tuple):
        return ("list", *value)
    if isinstance(value, bool):
        return ("bool", value)
    return (type(value).__name__, value)


_TOP, _ENTRY = 0, 1


def _fetchers(
    spec: InstrumentSpec, refs: Sequence[str], repeat: str | None
) -> tuple[tuple[int, str, bool], ...] | None:
    """Where each reference's raw answer sits, when it is a plain value; None when it is not.

    Raw answers determine what rules.expression_value makes of them, so they can key the memo
    directly. Node-sets (a repeat seen from outside) take the slow path through the lookup.
    """
    fetch: list[tuple[int, str, bool]] = []
    for name in refs:
        if name in spec.repeats_by_name:
            return None
        question = spec.questions_by_name.get(name)
        multiple = question is not None and question.type == "select_multiple"
        if question is None or question.repeat is None:
            fetch.append((_TOP, name, multiple))
        elif question.repeat == repeat:
            fetch.append((_ENTRY, name, multiple))
        elif repeat is None:
            return None
        # else: another repeat's question seen from inside an entry is always unanswered
    return tuple(fetch)


class _Expression:
    """One compiled expression whose results are cached by the values it refers to."""

    __slots__ = ("cache", "current", "fetch", "node", "refs", "today", "truths")

    def __init__(self, text: str, today: dt.date, spec: InstrumentSpec, repeat: str | None) -> None:
        self.node = rules.compiled(text)
        self.refs = tuple(sorted(expressions.references(self.node)))
        self.current = expressions.uses_current(self.node)
        self.today = today
        self.fetch = _fetchers(spec, self.refs, repeat)
        self.cache: dict[tuple, Any] = {}
        self.truths: dict[tuple, bool] = {}

    def key(
        self,
        lookup: Callable[[str], Any],
        answers: Mapping[str, Any],
        entry: Mapping[str, Any] | None,
        current: Any,
    ) -> tuple:
        """The values this expression depends on, hashable."""
        if self.fetch is not None:
            values = []
            for where, name, multiple in self.fetch:
                raw = (entry if where else answers).get(name)  # type: ignore[union-attr]
                values.append(tuple(raw) if multiple and raw is not None else raw)
            key = tuple(values)
        else:
            key = tuple([_freeze(lookup(name)) for name in self.refs])
        return (*key, _freeze(current)) if self.current else key

    def value(
        self,
        lookup: Callable[[str], Any],
        answers: Mapping[str, Any],
        entry: Mapping[str, Any] | None,
        current: Any = None,
    ) -> Any:
        key = self.key(lookup, answers, entry, current)
        try:
            return self.cache[key]
        except KeyError:
            pass
        context = expressions.EvalContext(lookup=lookup, current=current, today=self.today)
        result = expressions.evaluate(self.node, context)
        if len(self.cache) < _MEMO_LIMIT:
            self.cache[key] = result
        return result

    def truth(
        self,
        lookup: Callable[[str], Any],
        answers: Mapping[str, Any],
        entry: Mapping[str, Any] | None,
        current: Any = None,
    ) -> bool:
        key = self.key(lookup, answers, entry, current)
        try:
            return self.truths[key]
        except KeyError:
            pass
        result = expressions.to_boolean(self.value(lookup, answers, entry, current))
        if len(self.truths) < _MEMO_LIMIT:
            self.truths[key] = result
        return result


def _bounds(text: str | None) -> tuple[float | None, float | None]:
    """Literal bounds of a constraint like '. >= 0 and . <= 120' (others are checked, not read)."""
    if not text:
        return None, None
    low: float | None = None
    high: float | None = None

    def number(node: expressions.Node) -> float | None:
        if isinstance(node, expressions.Num):
            return node.value
        if isinstance(node, expressions.Neg) and isinstance(node.operand, expressions.Num):
            return -node.operand.value
        return None

    def walk(node: expressions.Node) -> None:
        nonlocal low, high
        if not isinstance(node, expressions.BinOp):
            return
        if node.op == "and":
            walk(node.left)
            walk(node.right)
            return
        op, left, right = node.op, node.left, node.right
        if isinstance(right, expressions.Current):  # '5 <= .' reads as '. >= 5'
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
            left, right = right, left
        value = number(right)
        if not isinstance(left, expressions.Current) or value is None:
            return
        if op in {">", ">="}:
            bound = value if op == ">=" else math.floor(value) + 1
            low = bound if low is None else max(low, bound)
        elif op in {"<", "<="}:
            bound = value if op == "<=" else math.ceil(value) - 1
            high = bound if high is None else min(high, bound)

    walk(rules.compiled(text))
    return low, high


@dataclass(eq=False)
class _QuestionPlan:
    """Everything the walk needs about one question, prepared once per instrument."""

    question: Question
    kind: str
    relevant: _Expression | None
    constraint: _Expression | None
    calculation: _Expression | None
    codes: tuple[str, ...]
    code_set: frozenset[str]
    filter_refs: tuple[str, ...]
    low: float | None
    high: float | None
    filtered: dict[tuple, tuple[tuple[str, ...], frozenset[str]]] = field(default_factory=dict)


@dataclass(eq=False)
class _RepeatPlan:
    repeat: Repeat
    relevant: _Expression | None
    count: _Expression | None
    questions: tuple[_QuestionPlan, ...]


class _Plan:
    """An instrument prepared for generation: steps in evaluation order, memoised rules."""

    def __init__(self, spec: InstrumentSpec, today: dt.date) -> None:
        self.spec = spec
        self.today = today
        self.repeats = spec.repeats_by_name
        self.questions = spec.questions_by_name
        self.steps: list[tuple[str, Any]] = []
        for node in rules.evaluation_order(spec):
            if isinstance(node, Section):
                self.steps.append(("section", (node.name, self._expr(node.relevant, None))))
            elif isinstance(node, Repeat):
                self.steps.append(("repeat", self._repeat(node)))
            else:
                self.steps.append(("question", self._question(node)))

    def _expr(self, text: str | None, repeat: str | None) -> _Expression | None:
        return _Expression(text, self.today, self.spec, repeat) if text else None

    def _question(self, q: Question) -> _QuestionPlan:
        choices = self.spec.choices.get(q.choice_list or "", ())
        refs: tuple[str, ...] = ()
        if q.choice_filter:
            refs = tuple(sorted(expressions.references(rules.compiled(q.choice_filter, True))))
        low, high = _bounds(q.constraint) if q.type in {"integer", "decimal"} else (None, None)
        calculation = None
        if q.type == "calculate":
            calculation = self._expr(q.calculation or "''", q.repeat)
        return _QuestionPlan(
            question=q,
            kind=q.type,
            relevant=self._expr(q.relevant, q.repeat),
            constraint=self._expr(q.constraint, q.repeat),
            calculation=calculation,
            codes=tuple(c.name for c in choices),
            code_set=frozenset(c.name for c in choices),
            filter_refs=refs,
            low=low,
            high=high,
        )

    def _repeat(self, repeat: Repeat) -> _RepeatPlan:
        return _RepeatPlan(
            repeat=repeat,
            relevant=self._expr(repeat.relevant, None),
            count=self._expr(repeat.repeat_count, None),
            questions=tuple(self._question(q) for q in _sibling_order(repeat)),
        )

    def offered(
        self, plan: _QuestionPlan, lookup: Callable[[str], Any]
    ) -> tuple[tuple[str, ...], frozenset[str]]:
        """The codes a select offers now, as rules.allowed_choices computes them (memoised)."""
        if not plan.filter_refs and not plan.question.choice_filter:
            return plan.codes, plan.code_set
        key = tuple([_freeze(lookup(name)) for name in plan.filter_refs])
        found = plan.filtered.get(key)
        if found is None:
            allowed = rules.allowed_choices(self.spec, plan.question, lookup, self.today)
            codes = tuple(c.name for c in allowed)
            found = (codes, frozenset(codes))
            if len(plan.filtered) < _MEMO_LIMIT:
                plan.filtered[key] = found
        return found


def _sibling_order(repeat: Repeat) -> tuple[Question, ...]:
    """Questions of a repeat with the siblings their expressions use first (as the rules do)."""
    names = {q.name for q in repeat.questions}
    needs: dict[str, set[str]] = {}
    for q in repeat.questions:
        refs: set[str] = set()
        for text, choice_filter in ((q.relevant, False), (q.calculation, False)):
            if text:
                refs |= expressions.references(rules.compiled(text, choice_filter))
        if q.choice_filter:
            refs |= expressions.references(rules.compiled(q.choice_filter, True))
        needs[q.name] = (refs & names) - {q.name}
    order: list[Question] = []
    done: set[str] = set()
    while len(order) < len(repeat.questions):
        ready = next(
            (q for q in repeat.questions if q.name not in done and needs[q.name] <= done), None
        )
        if ready is None:
            return repeat.questions
        order.append(ready)
        done.add(ready.name)
    return tuple(order)


@functools.lru_cache(maxsize=16)
def _plan_for(spec: InstrumentSpec, today: dt.date) -> _Plan:
    return _Plan(spec, today)


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

    def __init__(self, plan: _Plan, state: DemoState, profile: DemoProfile) -> None:
        self.plan = plan
        self.state = state
        self.profile = profile
        self.hooks = profile.hooks
        self.answers = state.answers
        self.sections: dict[str, bool] = {}

    # lookups: identical to rules._Evaluator.lookup_top / lookup_in
    def lookup_top(self, name: str) -> Any:
        answers = self.answers
        if name in self.plan.repeats:
            return expressions.NodeSet(["1"] * len(answers.get(name) or []))
        question = self.plan.questions.get(name)
        if question is not None and question.repeat is not None:
            entries = answers.get(question.repeat) or []
            return expressions.NodeSet(
                v
                for v in (rules.expression_value(question, e.get(name)) for e in entries)
                if v is not None
            )
        return rules.expression_value(question, answers.get(name))

    def lookup_in(self, entry: Mapping[str, Any]) -> Callable[[str], Any]:
        questions = self.plan.questions

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

    def repeat(self, plan: _RepeatPlan) -> None:
        repeat, answers = plan.repeat, self.answers
        if not (repeat.section is None or self.sections.get(repeat.section, True)) or (
            plan.relevant is not None and not plan.relevant.truth(self.lookup_top, answers, None)
        ):
            return
        if plan.count is not None:
            wanted = expressions.to_number(plan.count.value(self.lookup_top, answers, None))
            count = 0 if math.isnan(wanted) else int(wanted)
        else:
            self.state.question = None
            count = self.profile.entries(repeat, self.state)
        count = max(0, min(count, rules.MAX_REPEAT_ENTRIES))
        entries: list[dict[str, Any]] = []
        answers[repeat.name] = entries  # the rules count entries while filling them too
        for index in range(count):
            entry: dict[str, Any] = {}
            entries.append(entry)
            self.state.index = index
            lookup = self.lookup_in(entry)
            for question in plan.questions:
                self.question(question, lookup, entry)
        self.state.index, self.state.entry = -1, None
        if not entries:
            del answers[repeat.name]

    def question(
        self, plan: _QuestionPlan, lookup: Callable[[str], Any], entry: dict[str, Any] | None
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
        if plan.calculation is not None:
            value = rules.stored_calculation(plan.calculation.value(lookup, answers, entry))
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
                if q.required:
                    continue
                return
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


def _generic_value(plan: _QuestionPlan, state: DemoState, profile: DemoProfile) -> Any:
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
            return profile.message(state)
        return None
    if kind == "acknowledge":
        return "OK"
    if q.required:
        raise DemoDataError(f"Cannot generate answers of type {kind!r} ({q.name}).")
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
    plan = _plan_for(spec, today)
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


def profile_for(spec: InstrumentSpec) -> DemoProfile:
    """The default instrument's profile for its form_id, the generic one for anything else."""
    return BirgeProfile() if spec.form_id == DEFAULT_FORM_ID else DemoProfile()


# -- the default instrument's profile -------------------------------------------------------

# Rough population weights (thousands) of the districts; an unknown code gets _OTHER_WEIGHT.
DISTRICT_WEIGHTS = {
    "semey_city": 350,
    "kurchatov_city": 10,
    "abai_district": 17,
    "aksuat_district": 18,
    "ayagoz_district": 70,
    "beskaragai_district": 20,
    "borodulikha_district": 35,
    "zharma_district": 35,
    "kokpekti_district": 30,
    "urzhar_district": 65,
    "oskemen_city": 330,
    "glubokoe_district": 60,
    "shemonaikha_district": 40,
    "ulan_district": 40,
    "pavlodar_city": 330,
    "may_district": 10,
    "bayanaul_district": 25,
    "akkuly_district": 12,
    "karkaraly_district": 40,
    "other_kazakhstan": 80,
    "abroad": 20,
}
_OTHER_WEIGHT = 10
REGION_WEIGHTS = {
    "abai": 78,
    "east_kazakhstan": 8,
    "pavlodar": 6,
    "karaganda": 4,
    "other_area": 4,
}
# Villages close to the former test site, where grazing and hay-making on its land go on.
NEAR_TEST_SITE = {"abai_district", "beskaragai_district", "zharma_district", "kurchatov_city"}
GENERATION_WEIGHTS = {"g1": 42, "g2": 36, "g3": 16, "none": 6}
NEED_WEIGHTS = {
    "medical_care": 30,
    "medicines": 26,
    "status_descendants": 16,
    "screening": 10,
    "income_support": 8,
    "rehabilitation": 4,
    "psychological_support": 4,
    "environment": 4,
    "housing": 3,
    "employment": 3,
    "information": 2,
    "education": 1,
}
CONDITION_RATES = {  # per G1 respondent aged 70; scaled by age and generation
    "cardiovascular": 0.45,
    "thyroid": 0.22,
    "other_chronic": 0.18,
    "respiratory": 0.14,
    "neurological": 0.14,
    "blood": 0.10,
    "cancer": 0.08,
    "reproductive": 0.05,
    "mental_health": 0.05,
    "congenital": 0.01,
}
GENERATION_HEALTH = {"g1": 1.0, "g2": 0.6, "g3": 0.4, "none": 0.35, "g4": 0.3, "dnk": 0.5}
WG_DOMAINS = {  # relative difficulty of each Washington Group domain with age
    "seeing": 1.0,
    "hearing": 0.8,
    "walking": 1.3,
    "cognition": 0.7,
    "selfcare": 0.4,
    "communication": 0.3,
}
_MESSAGES = {
    "ru": (
        "Помогите нашим детям и внукам получить статус пострадавших.",
        "Нам нужны бесплатные лекарства и обследования каждый год.",
        "Не забывайте Семей и людей, которые до сих пор болеют.",
        "Ядерное оружие должно быть запрещено навсегда.",
        "Компенсация слишком маленькая, её нужно индексировать.",
        "Постройте специализированную клинику рядом с нами.",
    ),
    "kk": (
        "Балаларымыз бен немерелерімізге мәртебе беріңіздер.",
        "Бізге тегін дәрі-дәрмек пен жыл сайынғы тексеру керек.",
        "Семейді және әлі де ауырып жүрген адамдарды ұмытпаңыздар.",
        "Ядролық қаруға мәңгілікке тыйым салу керек.",
    ),
    "en": (
        "Please give our children and grandchildren legal status.",
        "We need free medicines and a check-up every year.",
        "Nuclear weapons must be banned forever.",
    ),
}
_REFUSAL_OTHER = {
    "ru": ("Потеряли документы о прописке.", "Сказали, что наше село не входит в зону."),
    "kk": ("Тіркеу құжаттары жоғалған.", "Ауылымыз аймаққа кірмейді деді."),
    "en": ("Residence papers were lost.", "They said our village is not in a zone."),
}


@functools.lru_cache(maxsize=1)
def settlement_zones() -> dict[str, str]:
    """Official zone of each settlement, read from the default instrument's reference data."""
    path = Path(__file__).resolve().parent.parent / "instruments" / "default" / "settlements.csv"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {row["settlement"]: row.get("zone", "") for row in csv.DictReader(fh)}


def _clamp(x: float, low: int, high: int) -> int:
    return max(low, min(high, round(x)))


@dataclass
class Person:
    """The respondent behind one default-instrument submission, drawn before the answers."""

    generation: str
    sex: str
    age: int
    birth_year: int
    language: str
    frailty: float  # 0 (none) .. 1 (very frail): drives difficulties and chronic disease
    distress: float  # latent, standard-normal-ish: drives PHQ-4, worry and support wanted
    wealth: float  # latent: income band, basic needs, coping
    roster: list[dict[str, Any]] = field(default_factory=list)


class BirgeProfile(DemoProfile):
    """Skews of the Semipalatinsk needs assessment (DOMAIN.md §1, §3–§5)."""

    name = "birge"
    skip_optional = 0.02

    def __init__(self) -> None:
        super().__init__()
        # Methods q_<question name>; a question missing from the instrument is never asked.
        self.hooks = {name[2:]: getattr(self, name) for name in dir(self) if name.startswith("q_")}
        for domain, weight in WG_DOMAINS.items():  # six Washington Group questions each
            self.hooks[f"wg_{domain}"] = functools.partial(self._wg, weight=weight)
            self.hooks[f"member_wg_{domain}"] = functools.partial(self._member_wg, weight=weight)

    def begin(self, state: DemoState) -> Person:
        rng = state.rng
        generation = rng.choices(list(GENERATION_WEIGHTS), list(GENERATION_WEIGHTS.values()))[0]
        if generation == "g1":
            # Most of the first generation were born before 1965; the rest lived there as
            # children during the underground tests (born up to 1990).
            if rng.random() < 0.88:
                age = _clamp(rng.triangular(60, 97, 70), 60, 105)
            else:
                age = rng.randint(max(18, state.day.year - 1990), 59)
        elif generation == "g2":
            age = _clamp(rng.triangular(18, 78, 42), 18, 90)
        elif generation == "g3":
            age = _clamp(rng.triangular(18, 50, 25), 18, 60)
        else:
            age = rng.randint(18, 80)
        female = 0.62 if age >= 65 else 0.55  # women outlive men; they also answer more often
        sex = "female" if rng.random() < female else "male"
        frailty = min(1.0, max(0.0, (age - 35) / 55)) * (1.25 if generation == "g1" else 1.0)
        frailty = min(1.0, frailty * rng.uniform(0.6, 1.4))
        distress = rng.gauss(0, 1) + {"g1": 0.35, "g2": 0.3, "g3": 0.1}.get(generation, 0)
        distress += 0.6 * frailty
        language = rng.choices(("ru", "kk", "en", "other"), (54, 43, 2, 1))[0]
        person = Person(
            generation=generation,
            sex=sex,
            age=age,
            birth_year=state.day.year - age,
            language=language,
            frailty=frailty,
            distress=distress,
            wealth=rng.gauss(0, 1) - 0.4 * frailty,
        )
        return person

    def entries(self, repeat: Repeat, state: DemoState) -> int:
        person: Person = state.person
        size = state.answers.get("household_size")
        if repeat.name == "member" and isinstance(size, int) and isinstance(person, Person):
            # The roster lists everyone but the respondent (see roster_note).
            person.roster = _roster(person, size - 1, state)
            return size - 1
        return super().entries(repeat, state)

    def language(self, state: DemoState) -> str:
        spoken = state.answers.get("interview_language")
        if spoken in state.spec.languages:
            return str(spoken)
        return "ru" if "ru" in state.spec.languages else super().language(state)

    def message(self, state: DemoState) -> str:
        person: Person = state.person
        texts = _MESSAGES.get(person.language if isinstance(person, Person) else "ru")
        return state.rng.choice(texts or _MESSAGES["ru"])

    # -- interview ------------------------------------------------------------------------
    def q_interview_language(self, s: DemoState) -> Any:
        return s.pick({s.person.language: 1})

    def q_interview_mode(self, s: DemoState) -> Any:
        return s.pick({"in_person": 86, "phone": 14})

    def q_region(self, s: DemoState) -> Any:
        return s.pick(REGION_WEIGHTS)

    def q_district(self, s: DemoState) -> Any:
        return s.pick({c: DISTRICT_WEIGHTS.get(c, _OTHER_WEIGHT) for c in s.allowed})

    def q_interview_date(self, s: DemoState) -> Any:
        return s.day.isoformat()

    def q_age(self, s: DemoState) -> Any:
        return s.person.age

    # -- respondent -----------------------------------------------------------------------
    def q_sex(self, s: DemoState) -> Any:
        return s.pick({s.person.sex: 1})

    def q_education(self, s: DemoState) -> Any:
        if s.rng.random() < 0.01:
            return s.pick({"pnta": 1})
        old = s.person.age >= 65
        return s.pick(
            {
                "none": 1 if old else 0.2,
                "primary": 4 if old else 0.5,
                "basic_secondary": 12 if old else 6,
                "general_secondary": 30,
                "vocational": 30,
                "higher": 20 if old else 28,
            }
        )

    def q_main_activity(self, s: DemoState) -> Any:
        p: Person = s.person
        pension_age = 63 if p.sex == "male" else 61
        if s.rng.random() < 0.01:
            return s.pick({"pnta": 1})
        if p.age >= pension_age:
            return s.pick({"retired": 85, "unable_to_work": 5, "employed": 4, "farming": 3,
                           "homemaker": 3})  # fmt: skip
        return s.pick(
            {
                "employed": 40,
                "self_employed": 14,
                "farming": 8,
                "unemployed": 9,
                "homemaker": 10 if p.sex == "female" else 1,
                "student": 30 if p.age < 24 else 0,
                "unable_to_work": 30 * p.frailty,
                "other": 2,
            }
        )

    def q_urban_rural(self, s: DemoState) -> Any:
        district = str(s.answers.get("district", ""))
        urban = 0.93 if district.endswith("_city") else 0.3
        return "urban" if s.rng.random() < urban else "rural"

    def q_settlement(self, s: DemoState) -> Any:
        if not s.allowed:
            return GENERIC
        weights: dict[str, float] = {}
        for position, code in enumerate(s.allowed):
            # The district centre comes first in the list and is the largest place.
            weights[code] = 1.0 if code.endswith("_other") else (8.0 if position == 0 else 1.5)
        if s.answers.get("urban_rural") == "urban" and s.allowed:
            weights[s.allowed[0]] *= 4
        return s.pick(weights)

    # -- exposure and generation ----------------------------------------------------------
    def q_self_in_territory(self, s: DemoState) -> Any:
        if s.person.generation == "g1":
            return "yes"
        return s.pick({"no": 95, "dnk": 4, "pnta": 1})

    def q_self_presence(self, s: DemoState) -> Any:
        military = 0.12 if s.person.sex == "male" and s.person.age >= 75 else 0.01
        return s.subset({"lived": 0.96, "worked": 0.3, "military": military}, empty="lived")

    def q_self_periods(self, s: DemoState) -> Any:
        if s.rng.random() < 0.03:
            return s.pick({"dnk": 1}) if "dnk" in s.allowed else GENERIC
        born = s.person.birth_year
        if born > 1965:
            return [c for c in ("1966_1990",) if c in s.allowed] or GENERIC
        draw = s.rng.random()
        if born <= 1960 and draw < 0.25:
            periods = ["1949_1965"]
        elif draw < 0.9:
            periods = ["1949_1965", "1966_1990"]
        else:
            periods = ["1966_1990"]
        return [c for c in periods if c in s.allowed] or GENERIC

    def q_years_in_territory(self, s: DemoState) -> Any:
        p: Person = s.person
        span = min(1990, s.day.year) - max(1949, p.birth_year) + 1
        span = max(1, min(42, span, p.age))
        return s.rng.randint(max(1, span // 3), span)

    def q_test_participant(self, s: DemoState) -> Any:
        p: Person = s.person
        if p.generation != "g1":
            return s.pick({"no": 96, "dnk": 3, "pnta": 1})
        yes = 0.12 if p.sex == "male" and p.age >= 72 else 0.01
        return s.pick({"yes": yes, "no": 0.95 - yes, "dnk": 0.03, "pnta": 0.02})

    def _parent(self, s: DemoState) -> Any:
        g = s.person.generation
        if g == "g1":
            return s.pick({"yes": 80, "no": 12, "dnk": 7, "pnta": 1})
        if g == "g2":
            return s.pick({"yes": 75, "no": 18, "dnk": 6, "pnta": 1})
        return s.pick({"no": 85, "dnk": 14, "pnta": 1})

    def q_mother_in_territory(self, s: DemoState) -> Any:
        return self._parent(s)

    def q_father_in_territory(self, s: DemoState) -> Any:
        value = self._parent(s)
        # A second-generation respondent needs at least one parent who lived there.
        if s.person.generation == "g2" and s.answers.get("mother_in_territory") != "yes":
            return "yes"
        return value

    def q_grandparents_in_territory(self, s: DemoState) -> Any:
        g = s.person.generation
        if g == "g3":
            return "yes"
        if g == "none":
            return s.pick({"no": 85, "dnk": 14, "pnta": 1})
        return s.pick({"yes": 60, "no": 15, "dnk": 24, "pnta": 1})

    def q_zone_self_reported(self, s: DemoState) -> Any:
        official = settlement_zones().get(str(s.answers.get("settlement", "")))
        draw = s.rng.random()
        if official and official in s.allowed and draw < 0.55:
            return official
        if draw < 0.8:
            return s.pick({"dnk": 1})
        return GENERIC

    def q_moved_away(self, s: DemoState) -> Any:
        district = s.answers.get("district")
        if district == "abroad":
            return s.pick({"abroad": 1})
        if s.answers.get("region") in {"other_area", "karaganda", "pavlodar"}:
            return s.pick({"within_kazakhstan": 90, "pnta": 3, "returned": 7})
        return s.pick({"no": 74, "within_kazakhstan": 10, "returned": 14, "pnta": 2})

    # -- legal status and benefits --------------------------------------------------------
    def q_certificate_status(self, s: DemoState) -> Any:
        weights = {
            "g1": {"paper": 42, "digital": 26, "pending": 5, "refused": 8, "never_applied": 14,
                   "dnk": 3, "pnta": 2},
            "g2": {"paper": 10, "digital": 7, "pending": 6, "refused": 20, "never_applied": 51,
                   "dnk": 5, "pnta": 1},
            "g3": {"paper": 3, "digital": 4, "pending": 4, "refused": 14, "never_applied": 69,
                   "dnk": 5, "pnta": 1},
            "none": {"never_applied": 90, "dnk": 8, "pnta": 2},
        }  # fmt: skip
        return s.pick(weights[s.person.generation])

    def q_certificate_refusal_reasons(self, s: DemoState) -> Any:
        special = s.maybe(dnk=0.05, pnta=0.02)
        if special:
            return [special]
        if s.person.generation in {"g2", "g3"}:
            chances = {"descendant": 0.85, "residence_proof": 0.1, "archive_missing": 0.1,
                       "other": 0.04}  # fmt: skip
        else:
            chances = {"residence_proof": 0.4, "archive_missing": 0.35, "zone_not_covered": 0.25,
                       "period_not_covered": 0.12, "other": 0.06}  # fmt: skip
        return s.subset(chances, empty="residence_proof")

    def q_certificate_refusal_other(self, s: DemoState) -> Any:
        return s.rng.choice(_REFUSAL_OTHER.get(s.person.language, _REFUSAL_OTHER["ru"]))

    def q_benefits_received(self, s: DemoState) -> Any:
        p: Person = s.person
        special = s.maybe(dnk=0.04, pnta=0.02)
        if special:
            return [special]
        if s.answers.get("certificate_status") not in {"paper", "digital"}:
            return s.pick({"none": 1})
        working = p.age < 63
        return s.subset(
            {
                "one_time_compensation": 0.8,
                "monthly_payment": 0.6,
                "extra_leave": 0.35 if working else 0.02,
                "pension_supplement": 0.55 if p.age >= 60 else 0,
                "early_pension": 0.3 if p.age >= 50 else 0,
                "participant_allowance": 0.8 if s.answers.get("test_participant") == "yes" else 0,
                "priority_medical": 0.25,
                "medical_exam": 0.3,
            }
        )

    def q_benefits_adequacy(self, s: DemoState) -> Any:
        return s.pick({"1": 30, "2": 35, "3": 22, "4": 8, "5": 2, "dnk": 2, "pnta": 1})

    def q_entitlements_awareness(self, s: DemoState) -> Any:
        if s.person.generation == "g1":
            return s.pick({"well": 30, "partly": 45, "not_aware": 25})
        return s.pick({"well": 10, "partly": 35, "not_aware": 55})

    def q_status_barriers(self, s: DemoState) -> Any:
        special = s.maybe(dnk=0.05, pnta=0.02)
        if special:
            return [special]
        if s.rng.random() < 0.25:
            return s.pick({"none": 1})
        descendant = s.person.generation in {"g2", "g3"}
        return s.subset(
            {
                "documents": 0.45,
                "archive": 0.3,
                "information": 0.3,
                "procedures": 0.35,
                "distance": 0.15 if s.answers.get("urban_rural") == "rural" else 0.05,
                "cost": 0.15,
                "health_mobility": 0.3 * s.person.frailty,
                "not_eligible": 0.6 if descendant else 0.05,
                "informal_payments": 0.04,
                "other": 0.03,
            }
        )

    # -- household ------------------------------------------------------------------------
    def q_household_size(self, s: DemoState) -> Any:
        if s.person.age >= 70:
            sizes, weights = (1, 2, 3, 4, 5, 6, 7), (24, 36, 12, 10, 8, 6, 4)
        else:
            sizes, weights = (1, 2, 3, 4, 5, 6, 7, 8, 9), (6, 12, 18, 22, 18, 12, 6, 4, 2)
        return s.rng.choices(sizes, weights)[0]

    def _member(self, s: DemoState) -> dict[str, Any] | None:
        roster = s.person.roster if isinstance(s.person, Person) else []
        return roster[s.index] if 0 <= s.index < len(roster) else None

    def q_relationship(self, s: DemoState) -> Any:
        m = self._member(s)
        return GENERIC if m is None else s.pick({m["relationship"]: 1})

    def q_member_sex(self, s: DemoState) -> Any:
        m = self._member(s)
        return GENERIC if m is None else s.pick({m["sex"]: 1})

    def q_member_age(self, s: DemoState) -> Any:
        m = self._member(s)
        return GENERIC if m is None else m["age"]

    def q_member_generation(self, s: DemoState) -> Any:
        m = self._member(s)
        return GENERIC if m is None else s.pick({m["generation"]: 1})

    def q_member_certificate(self, s: DemoState) -> Any:
        m = self._member(s)
        if m is None:
            return GENERIC
        if m["generation"] == "g1":
            weights = {"paper": 45, "digital": 20, "never_applied": 15, "refused": 8, "dnk": 12}
        elif m["age"] < 18:
            weights = {"never_applied": 85, "refused": 3, "dnk": 12}
        else:
            weights = {"paper": 5, "digital": 4, "pending": 3, "refused": 12,
                       "never_applied": 62, "dnk": 14}  # fmt: skip
        return s.pick(weights)

    def _difficulty(self, s: DemoState, frailty: float, weight: float) -> Any:
        if s.rng.random() < 0.01:
            return s.pick({"dnk": 2, "pnta": 1})
        f = frailty * weight
        return s.pick(
            {
                "no_difficulty": max(0.05, 1 - 0.6 * f),
                "some_difficulty": 0.08 + 0.4 * f,
                "a_lot": 0.004 + 0.07 * f,
                "cannot": 0.001 + 0.015 * f,
            }
        )

    def _conditions(self, s: DemoState, age: int, generation: str) -> Any:
        special = s.maybe(dnk=0.03, pnta=0.03)  # diagnoses are sensitive
        if special:
            return [special]
        scale = GENERATION_HEALTH.get(generation, 0.5) * (0.15 + 0.85 * min(1.0, age / 70))
        chances = {code: rate * scale for code, rate in CONDITION_RATES.items()}
        chances["congenital"] = 0.01 + (0.02 if generation in {"g2", "g3"} else 0)
        return s.subset(chances)

    def q_member_conditions(self, s: DemoState) -> Any:
        m = self._member(s)
        return GENERIC if m is None else self._conditions(s, m["age"], m["generation"])

    def q_member_disability_group(self, s: DemoState) -> Any:
        m = self._member(s)
        if m is None:
            return GENERIC
        disabled = s.entry is not None and s.entry.get("member_wg_disability") == "yes"
        if m["age"] < 18:
            return s.pick({"child": 3, "none": 95, "dnk": 2})
        if disabled:
            return s.pick({"group_1": 10, "group_2": 30, "group_3": 25, "pending": 5,
                           "none": 27, "dnk": 3})  # fmt: skip
        return s.pick({"group_2": 2, "group_3": 5, "none": 90, "dnk": 3})

    def q_member_unmet_need(self, s: DemoState) -> Any:
        ill = s.entry is not None and any(
            c not in EXCLUSIVE_CODES for c in s.entry.get("member_conditions") or []
        )
        yes = 0.3 if ill else 0.08
        return s.pick({"yes": yes, "no": 0.9 - yes, "dnk": 0.08, "pnta": 0.02})

    def q_member_school(self, s: DemoState) -> Any:
        return s.pick({"yes": 93, "no": 5, "dnk": 2})

    # -- health and care ------------------------------------------------------------------
    def q_conditions(self, s: DemoState) -> Any:
        return self._conditions(s, s.person.age, s.person.generation)

    def _ill(self, s: DemoState) -> bool:
        return any(c not in EXCLUSIVE_CODES for c in s.answers.get("conditions") or [])

    def q_unmet_need(self, s: DemoState) -> Any:
        yes = 0.22 + (0.18 if self._ill(s) else 0) + 0.1 * s.person.frailty
        return s.pick({"yes": yes, "no": 0.95 - yes, "dnk": 0.03, "pnta": 0.02})

    def q_care_barriers(self, s: DemoState) -> Any:
        special = s.maybe(dnk=0.03, pnta=0.02)
        if special:
            return [special]
        if s.answers.get("unmet_need") != "yes" and s.rng.random() < 0.55:
            return s.pick({"none": 1})
        rural = s.answers.get("urban_rural") == "rural"
        return s.subset(
            {
                "cost_medicines": 0.5,
                "cost_services": 0.3,
                "waiting": 0.35,
                "no_specialist": 0.3 if rural else 0.15,
                "distance": 0.35 if rural else 0.05,
                "poor_treatment": 0.08,
                "information": 0.1,
                "mobility": 0.4 * s.person.frailty,
                "refused": 0.03,
                "other": 0.02,
            }
        )

    def q_screening_12m(self, s: DemoState) -> Any:
        yes = 0.45 if s.answers.get("certificate_status") in {"paper", "digital"} else 0.25
        return s.pick({"yes": yes, "no": 0.93 - yes, "dnk": 0.05, "pnta": 0.02})

    def q_exam_offer(self, s: DemoState) -> Any:
        if s.answers.get("certificate_status") in {"paper", "digital"}:
            return s.pick({"attended": 35, "not_attended": 12, "not_offered": 45, "dnk": 8})
        return s.pick({"attended": 5, "not_attended": 4, "not_offered": 80, "dnk": 11})

    def q_out_of_pocket(self, s: DemoState) -> Any:
        if self._ill(s):
            return s.pick({"none": 8, "lt_10k": 15, "10k_50k": 40, "50k_100k": 20,
                           "100k_plus": 10, "dnk": 4, "pnta": 3})  # fmt: skip
        return s.pick({"none": 35, "lt_10k": 30, "10k_50k": 22, "50k_100k": 5, "100k_plus": 2,
                       "dnk": 4, "pnta": 2})  # fmt: skip

    def q_repro_outcomes(self, s: DemoState) -> Any:
        draw = s.rng.random()
        if draw < 0.15:
            return None  # optional and sensitive: often skipped
        special = s.maybe(dnk=0.07, pnta=0.14)
        if special:
            return [special]
        female = s.person.sex == "female"
        return s.subset(
            {
                "miscarriage": 0.18 if female else 0.06,
                "stillbirth": 0.04,
                "infertility": 0.06,
                "congenital_anomaly": 0.07 if s.person.generation != "none" else 0.03,
                "infant_death": 0.04,
            }
        )

    # -- functioning ----------------------------------------------------------------------
    def _wg(self, s: DemoState, weight: float) -> Any:
        return self._difficulty(s, s.person.frailty, weight)

    def _member_wg(self, s: DemoState, weight: float) -> Any:
        m = self._member(s)
        return self._difficulty(s, 0.2 if m is None else m["frailty"], weight)

    def q_disability_group(self, s: DemoState) -> Any:
        if s.answers.get("wg_disability") == "yes":
            return s.pick({"group_1": 10, "group_2": 30, "group_3": 25, "pending": 5,
                           "none": 27, "dnk": 2, "pnta": 1})  # fmt: skip
        return s.pick({"group_2": 2, "group_3": 6, "pending": 1, "none": 88, "dnk": 2,
                       "pnta": 1})  # fmt: skip

    def q_rehab_unmet(self, s: DemoState) -> Any:
        yes = 0.05 + 0.5 * s.person.frailty
        return s.pick({"yes": yes, "no": 0.93 - yes, "dnk": 0.05, "pnta": 0.02})

    # -- psychological well-being ----------------------------------------------------------
    def _phq(self, s: DemoState) -> Any:
        if s.rng.random() < 0.02:
            return s.pick({"pnta": 1})
        score = _clamp(0.35 + 0.6 * s.person.distress + s.rng.gauss(0, 0.6), 0, 3)
        return s.pick({str(score): 1})

    q_phq_nervous = q_phq_worry = q_phq_interest = q_phq_down = _phq

    def q_radiation_worry(self, s: DemoState) -> Any:
        special = s.maybe(dnk=0.02, pnta=0.01)
        if special:
            return special
        base = 2.5 + (0.35 if s.person.generation != "none" else -0.3)
        return s.pick({str(_clamp(base + 0.6 * s.person.distress + s.rng.gauss(0, 0.6), 1, 4)): 1})

    def q_psych_support_received(self, s: DemoState) -> Any:
        return s.pick({"yes": 5, "no": 89, "dnk": 3, "pnta": 3})

    def q_psych_support_wanted(self, s: DemoState) -> Any:
        yes = 1 / (1 + math.exp(-(s.person.distress - 0.8)))
        return s.pick({"yes": yes, "no": 0.9 - 0.8 * yes, "dnk": 0.06, "pnta": 0.04})

    def q_stigma(self, s: DemoState) -> Any:
        if s.person.generation == "none":
            return s.pick({"never": 90, "sometimes": 6, "pnta": 4})
        return s.pick({"never": 52, "sometimes": 30, "often": 10, "pnta": 8})

    # -- socio-economic -------------------------------------------------------------------
    def q_income_band(self, s: DemoState) -> Any:
        special = s.maybe(dnk=0.04, pnta=0.05)
        if special:
            return special
        bands = ("lt_100k", "100k_200k", "200k_350k", "350k_500k", "500k_plus")
        level = _clamp(1.2 + 0.9 * s.person.wealth, 0, 4)
        return s.pick({bands[level]: 1})

    def q_income_sources(self, s: DemoState) -> Any:
        if s.rng.random() < 0.03:
            return s.pick({"pnta": 1})
        a, p = s.answers, s.person
        activity = a.get("main_activity")
        return s.subset(
            {
                "pension": 0.95 if p.age >= 61 or activity == "retired" else 0.03,
                "wages": 0.9 if activity == "employed" else 0.35,
                "self_employment": 0.9 if activity == "self_employed" else 0.08,
                "farming": 0.9 if activity == "farming" else (
                    0.35 if a.get("urban_rural") == "rural" else 0.03),
                "disability_benefit": 0.8 if str(a.get("disability_group", "")).startswith(
                    "group") else 0.03,
                "test_site_payments": 0.9 if "monthly_payment" in (
                    a.get("benefits_received") or []) else 0,
                "social_assistance": 0.25 if p.wealth < -1 else 0.03,
                "family_support": 0.25,
                "other": 0.02,
            }
        )  # fmt: skip

    def q_basic_needs(self, s: DemoState) -> Any:
        if s.rng.random() < 0.02:
            return s.pick({"pnta": 1})
        level = _clamp(1.4 - 0.9 * s.person.wealth + s.rng.gauss(0, 0.5), 0, 3)
        return s.pick({("fully", "mostly", "partly", "not_at_all")[level]: 1})

    def q_coping_30d(self, s: DemoState) -> Any:
        if s.rng.random() < 0.03:
            return s.pick({"pnta": 1})
        if s.answers.get("basic_needs") in {"fully", "mostly"} and s.rng.random() < 0.8:
            return s.pick({"none": 1})
        return s.subset({"borrowed": 0.45, "reduced_food": 0.3, "skipped_medicines": 0.3,
                         "delayed_care": 0.35, "sold_assets": 0.1})  # fmt: skip

    def q_health_limits_work(self, s: DemoState) -> Any:
        f = s.person.frailty
        return s.pick({"a_lot": 0.05 + 0.35 * f, "somewhat": 0.1 + 0.3 * f,
                       "no": max(0.05, 0.85 - 0.6 * f), "pnta": 0.02})  # fmt: skip

    def q_caregiver(self, s: DemoState) -> Any:
        roster = s.person.roster if isinstance(s.person, Person) else []
        needs_care = any(m["age"] >= 75 or m.get("frail") for m in roster)
        yes = 0.45 if needs_care else 0.08
        return s.pick({"yes": yes, "no": 0.95 - yes, "dnk": 0.02, "pnta": 0.02})

    def q_children_missing_school(self, s: DemoState) -> Any:
        children = [e for e in s.answers.get("member") or [] if 6 <= e.get("member_age", -1) <= 17]
        if not children:
            return s.pick({"no_children": 1})
        return s.pick({"yes": 8, "no": 90, "pnta": 2})

    # -- environment ----------------------------------------------------------------------
    def q_water_source(self, s: DemoState) -> Any:
        if s.answers.get("urban_rural") == "urban":
            return s.pick({"piped": 85, "public_tap": 6, "delivered": 6, "well": 2, "dnk": 1})
        return s.pick({"well": 42, "piped": 25, "public_tap": 20, "surface": 6, "delivered": 5,
                       "other": 1, "dnk": 1})  # fmt: skip

    def q_contamination_concern(self, s: DemoState) -> Any:
        worry = s.answers.get("radiation_worry")
        if isinstance(worry, str) and worry.isdigit():
            return s.pick({str(_clamp(int(worry) + s.rng.choice((-1, 0, 0, 0, 1)), 1, 4)): 1})
        return GENERIC

    def q_test_site_land_use(self, s: DemoState) -> Any:
        special = s.maybe(dnk=0.03, pnta=0.02)
        if special:
            return [special]
        near = s.answers.get("district") in NEAR_TEST_SITE
        if s.answers.get("urban_rural") != "rural" or (not near and s.rng.random() < 0.8):
            return s.pick({"none": 1})
        return s.subset({"grazing": 0.5, "hay": 0.4, "crops": 0.1, "foraging": 0.2,
                         "hunting_fishing": 0.08})  # fmt: skip

    def q_radiation_info(self, s: DemoState) -> Any:
        return s.pick({"last_12m": 10, "one_to_5y": 15, "over_5y": 25, "never": 45, "dnk": 5})

    def q_env_priorities(self, s: DemoState) -> Any:
        if s.rng.random() < 0.04:
            return s.pick({"dnk": 1})
        weights = {"health_monitoring": 30, "water_testing": 22, "measure_publish": 18,
                   "cleanup": 15, "food_monitoring": 10, "fence_mark": 6,
                   "safety_information": 8}  # fmt: skip
        codes = [c for c in weights if c in s.allowed]
        if not codes:
            return GENERIC
        chosen: list[str] = []
        for _ in range(min(len(codes), s.rng.choice((1, 2, 3, 3)))):
            rest = [c for c in codes if c not in chosen]
            chosen.append(s.rng.choices(rest, [weights[c] for c in rest])[0])
        return [c for c in s.allowed if c in chosen]

    # -- priorities and reform ------------------------------------------------------------
    def _need(self, s: DemoState, earlier: Sequence[str]) -> Any:
        if earlier and s.rng.random() < 0.05:
            return None  # some name only one or two needs
        weights = dict(NEED_WEIGHTS)
        if s.person.generation in {"g2", "g3"}:
            weights["status_descendants"] *= 2
        if s.person.frailty > 0.6:
            weights["rehabilitation"] *= 2
        if s.person.age < 40:
            weights["employment"] *= 3
        for code in earlier:
            weights.pop(code, None)
        return s.pick(weights)

    def q_need_1(self, s: DemoState) -> Any:
        return self._need(s, ())

    def q_need_2(self, s: DemoState) -> Any:
        return self._need(s, [str(s.answers.get("need_1"))])

    def q_need_3(self, s: DemoState) -> Any:
        return self._need(s, [str(s.answers.get("need_1")), str(s.answers.get("need_2"))])

    def _reform(self, s: DemoState) -> Any:
        return s.pick({"strongly_agree": 55, "agree": 28, "neutral": 8, "disagree": 3,
                       "strongly_disagree": 1, "dnk": 5})  # fmt: skip

    q_reform_indexed_compensation = q_reform_annual_screening = _reform
    q_reform_specialised_clinics = q_reform_psychosocial_services = _reform
    q_reform_simpler_documents = q_reform_include_abroad = _reform
    q_reform_gender_age_measures = q_reform_trust_fund = _reform

    def q_reform_descendants_status(self, s: DemoState) -> Any:
        if s.person.generation in {"g2", "g3"}:
            return s.pick({"strongly_agree": 75, "agree": 18, "neutral": 3, "dnk": 4})
        return self._reform(s)

    def q_message_to_states(self, s: DemoState) -> Any:
        return self.message(s) if s.rng.random() < 0.3 else None


def _roster(person: Person, count: int, state: DemoState) -> list[dict[str, Any]]:
    """Household members other than the respondent, with ages and generations that fit."""
    rng = state.rng
    age, gen = person.age, person.generation
    other = "male" if person.sex == "female" else "female"
    members: list[dict[str, Any]] = []

    def add(relationship: str, sex: str, member_age: int, generation: str) -> None:
        if len(members) < count:
            member_age = max(0, min(110, member_age))
            members.append(
                {"relationship": relationship, "sex": sex, "age": member_age,
                 "generation": generation}
            )  # fmt: skip

    child_gen = {"g1": "g2", "g2": "g3", "g3": "g4"}.get(gen, "none")
    parent_gen = {"g1": "g1", "g2": "g1", "g3": "g2"}.get(gen, "none")
    widowed = 0.55 if age >= 75 and person.sex == "female" else 0.25
    if age >= 22 and rng.random() > widowed:
        spouse_gen = gen if rng.random() < 0.6 else "none"
        add("spouse", other, age + rng.randint(-6, 6), spouse_gen)
    sex = lambda: rng.choice(("female", "male"))  # noqa: E731 - a two-word helper
    if age >= 50:
        for _ in range(count):
            child_age = age - rng.randint(22, 34)
            if child_age >= 18 and len(members) < count:
                add("child", sex(), child_age, child_gen)
            if len(members) < count and rng.random() < 0.5:
                add("child_in_law", sex(), child_age + rng.randint(-3, 3), "none")
            grandchild_gen = {"g1": "g3", "g2": "g4"}.get(gen, "none")
            add("grandchild", sex(), max(0, age - rng.randint(45, 62)), grandchild_gen)
    else:
        if age < 40 and rng.random() < 0.5:
            add("parent", "female", age + rng.randint(20, 32), parent_gen)
            add("parent", "male", age + rng.randint(22, 36), parent_gen)
        for _ in range(count):
            if age >= 20:
                add("child", sex(), max(0, age - rng.randint(20, 34) + rng.randint(0, 14)),
                    child_gen)  # fmt: skip
            if rng.random() < 0.3:
                add("sibling", sex(), age + rng.randint(-8, 8), gen)
            if rng.random() < 0.2:
                add("parent_in_law", sex(), age + rng.randint(22, 32), "none")
    while len(members) < count:
        add("other_relative", sex(), rng.randint(5, 80), rng.choice(("none", "dnk")))
    for member in members:
        member["frail"] = member["age"] >= 70 and rng.random() < 0.4
        health = GENERATION_HEALTH.get(member["generation"], 0.5)
        member["frailty"] = min(1.0, max(0.0, (member["age"] - 35) / 55) * health * 1.2)
        if member["generation"] not in {"none", "dnk"} and rng.random() < 0.06:
            member["generation"] = "dnk"  # respondents don't always know a relative's history
    return members


# -- storing ----------------------------------------------------------------------------------


def _instance_id(rng: Random) -> str:
    return f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _receipt_code(rng: Random, taken: set[str]) -> str:
    while True:
        raw = "".join(rng.choices(RECEIPT_ALPHABET, k=RECEIPT_LENGTH))
        code = f"{raw[:4]}-{raw[4:]}"
        if code not in taken:
            taken.add(code)
            return code


def _interview_window(survey_round: SurveyRound, today: dt.date) -> tuple[dt.date, int]:
    """First day and number of days interviews fall on: the round up to yesterday.

    Yesterday, so that no interview ends in the future and a seed always gives the same
    times; a round that starts today gets today (times then stop at the current time).
    """
    last = min(survey_round.ends_on or today, today - dt.timedelta(days=1))
    if last < survey_round.starts_on:
        last = min(survey_round.starts_on, today)
    first = min(survey_round.starts_on, last)
    return first, (last - first).days + 1


def _latest_time(today: dt.date) -> dt.datetime:
    """No demo interview ends after this: now, or the end of `today` when that is earlier."""
    end_of_day = dt.datetime.combine(today, dt.time(23, 59, 59), dt.UTC)
    now = dt.datetime.now(dt.UTC)
    return min(now, end_of_day) if now.date() >= today else end_of_day


@dataclass(frozen=True)
class _Job:
    """What every chunk of a demo run shares (plain values: it travels to worker processes)."""

    seed: int
    version_id: int
    round_id: int
    entered_by_id: int | None
    first_day: dt.date
    days: int
    today: dt.date
    now: dt.datetime
    verify_every: int


def _chunk_rng(seed: int, index: int) -> Random:
    # One generator per chunk: chunks can be made in any process, the data stay the same.
    return Random(f"birge-demo/{seed}/{index}")  # noqa: S311 - reproducible, not secret


def _chunk_rows(spec: InstrumentSpec, job: _Job, index: int, count: int) -> list[dict[str, Any]]:
    """Rows of one chunk, without receipt codes (those must be unique across the table)."""
    profile = profile_for(spec)
    rng = _chunk_rng(job.seed, index)
    district_key = spec.intake.district_question
    rows = []
    for number in range(count):
        day = job.first_day + dt.timedelta(days=rng.randrange(job.days))
        answers = generate_answers(spec, rng, profile=profile, day=day, today=job.today)
        if job.verify_every and (index * CHUNK_SIZE + number) % job.verify_every == 0:
            check_answers(spec, answers, today=job.today)
        local_start = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(
            seconds=rng.randrange(10 * 3600)
        )
        started = (local_start - _LOCAL_OFFSET).replace(tzinfo=dt.UTC)
        ended = started + dt.timedelta(seconds=round(rng.triangular(20, 60, 32) * 60))
        if ended > job.now:  # an interview "today" has not happened later than now
            started, ended = started - (ended - job.now), job.now
        district = answers.get(district_key)
        state = DemoState(spec, rng, day, job.today)
        state.answers = answers
        rows.append(
            {
                "instance_id": _instance_id(rng),
                "instrument_version_id": job.version_id,
                "round_id": job.round_id,
                "entered_by_id": job.entered_by_id,
                "answers": answers,
                "answers_sha256": answers_digest(job.version_id, answers),
                "language": profile.language(state),
                "source": SOURCE,
                "district": str(district) if district is not None else None,
                "started_at": started,
                "ended_at": ended,
                "received_at": min(job.now, ended + dt.timedelta(seconds=rng.randrange(5, 3600))),
                "review_status": "pending",
                "is_demo": True,
            }
        )
    return rows


_worker_spec: InstrumentSpec | None = None


def _start_worker(spec: InstrumentSpec) -> None:
    global _worker_spec  # one spec per worker process, set once by the pool initializer
    _worker_spec = spec


def _worker_chunk(job: _Job, index: int, count: int) -> list[dict[str, Any]]:
    assert _worker_spec is not None
    return _chunk_rows(_worker_spec, job, index, count)


def _chunks(spec: InstrumentSpec, job: _Job, n: int, workers: int) -> Iterator[list[dict]]:
    """The chunks of a run in order, made here or by worker processes (same data either way)."""
    sizes = [min(CHUNK_SIZE, n - start) for start in range(0, n, CHUNK_SIZE)]
    # fork: a worker starts in milliseconds with the instrument already parsed, and spawn
    # would re-run an unguarded calling script. Workers only compute; they never touch the
    # parent's database connections.
    if workers <= 1 or len(sizes) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for index, count in enumerate(sizes):
            yield _chunk_rows(spec, job, index, count)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(spec,)
    ) as pool:
        pending: collections.deque[Future[list[dict]]] = collections.deque()
        upcoming = iter(enumerate(sizes))
        for index, count in itertools.islice(upcoming, 2 * workers):
            pending.append(pool.submit(_worker_chunk, job, index, count))
        while pending:
            rows = pending.popleft().result()
            for index, count in itertools.islice(upcoming, 1):  # keeps memory bounded
                pending.append(pool.submit(_worker_chunk, job, index, count))
            yield rows


def iter_demo_rows(
    version: InstrumentVersion,
    survey_round: SurveyRound,
    n: int,
    seed: int,
    *,
    entered_by: User | None = None,
    today: dt.date | None = None,
    taken_codes: set[str] | None = None,
    verify_every: int = 500,
    workers: int = 1,
) -> Iterator[dict[str, Any]]:
    """Rows for the submissions table, the same for a seed whatever the number of workers.

    Every `verify_every`-th submission is re-checked with rules.evaluate_answers.
    """
    spec = spec_for(version)
    today = today or dt.date.today()
    first_day, days = _interview_window(survey_round, today)
    job = _Job(
        seed=seed,
        version_id=version.id,
        round_id=survey_round.id,
        entered_by_id=entered_by.id if entered_by is not None else None,
        first_day=first_day,
        days=days,
        today=today,
        now=_latest_time(today),
        verify_every=verify_every,
    )
    taken = taken_codes if taken_codes is not None else set()
    codes = Random(f"birge-demo/{seed}/receipts")  # noqa: S311 - reproducible, not secret
    for rows in _chunks(spec, job, n, workers):
        for row in rows:
            row["receipt_code"] = _receipt_code(codes, taken)
            yield row


_STORED_TYPES: dict[str, tuple[type, ...]] = {
    "select_one": (str,),
    "select_multiple": (list,),
    "integer": (int,),
    "decimal": (float,),
    "date": (str,),
    "text": (str,),
    "acknowledge": (str,),
}


def _type_problems(spec: InstrumentSpec, answers: Mapping[str, Any]) -> list[str]:
    """Keys whose value has a type the web form would never store."""
    problems: list[str] = []

    def check(key: str, name: str, value: Any) -> None:
        question = spec.questions_by_name.get(name)
        kinds = _STORED_TYPES.get(question.type) if question is not None else None
        if kinds is None:
            return
        if (
            not isinstance(value, kinds)
            or isinstance(value, bool)
            or (
                isinstance(value, list)
                and (
                    not value
                    or len(set(value)) != len(value)
                    or not all(isinstance(c, str) for c in value)
                )
            )
        ):
            problems.append(key)

    for name, value in answers.items():
        if name in spec.repeats_by_name and isinstance(value, list):
            for index, entry in enumerate(value):
                for child, child_value in entry.items():
                    check(rules.field_key(child, name, index), child, child_value)
        else:
            check(name, name, value)
    return problems


def check_answers(
    spec: InstrumentSpec, answers: Mapping[str, Any], *, today: dt.date | None = None
) -> None:
    """Raise DemoDataError unless the web form could have stored exactly these answers."""
    outcome = rules.evaluate_answers(spec, answers, today=today)
    if outcome.errors or outcome.answers != answers:
        changed = sorted(
            k
            for k in set(outcome.answers) | set(answers)
            if outcome.answers.get(k) != answers.get(k)
        )
        raise DemoDataError(
            f"Generated answers break the rules of {spec.form_id}: errors {outcome.errors}, "
            f"changed {changed}"
        )
    problems = _type_problems(spec, answers)
    if problems:
        raise DemoDataError(f"Generated answers have values of the wrong type: {problems}")
    if refusal_reason(spec, answers) is not None:
        raise DemoDataError("Generated answers would be stored as a refusal.")


def default_workers(n: int) -> int:
    """Worker processes worth starting for n submissions (starting one costs about a second)."""
    if n < 20_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def write_demo_data(
    version: InstrumentVersion,
    survey_round: SurveyRound,
    n: int,
    seed: int,
    *,
    entered_by: User | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    today: dt.date | None = None,
    workers: int | None = None,
) -> int:
    """Store n demo submissions (is_demo=True); returns how many were new.

    The same seed gives the same instance ids and answers, so writing it again adds nothing.
    Commits once per batch: a bulk load must not hold one huge transaction.
    """
    if n < 0 or batch_size < 1:
        raise ValueError("n must be >= 0 and batch_size >= 1")
    table = Submission.__table__
    taken = set(db.session.execute(select(Submission.receipt_code)).scalars())
    rows = iter_demo_rows(
        version,
        survey_round,
        n,
        seed,
        entered_by=entered_by,
        today=today,
        taken_codes=taken,
        workers=default_workers(n) if workers is None else workers,
    )
    written = 0
    while batch := list(itertools.islice(rows, batch_size)):
        ids = [row["instance_id"] for row in batch]
        stored = set(
            db.session.execute(
                select(Submission.instance_id).where(Submission.instance_id.in_(ids))
            ).scalars()
        )
        fresh = [row for row in batch if row["instance_id"] not in stored]
        if fresh:
            db.session.execute(insert(table), fresh)
            written += len(fresh)
        db.session.commit()
    return written
