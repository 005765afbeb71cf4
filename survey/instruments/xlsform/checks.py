"""Expressions checked against the instrument: names, cycles, indexed-repeat() levels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from survey.instruments import expressions, piping
from survey.instruments.places import workbook_place
from survey.instruments.spec import (
    InstrumentSpec,
    Repeat,
)

if TYPE_CHECKING:
    pass
from survey.instruments.xlsform.problems import _Locations


def _check_indexed_repeat(
    spec: InstrumentSpec, where: str, name: str, named: tuple[str, ...], locations: _Locations
) -> None:
    """indexed-repeat() names the repeats holding its question, outermost first and ending
    with the question's own, as ODK reads it; anything else would choose entries at random."""
    question = spec.questions_by_name.get(name)
    if question is None:
        return  # an unknown name is reported with the others
    holders = tuple(r.name for r in spec.repeat_chain(question.repeat))
    if not holders:
        locations.problems.append(
            _(
                "%(where)s: indexed-repeat() reads a question of a repeat, and '%(name)s' is "
                "in none.",
                where=where,
                name=name,
            )
        )
        return
    at = [holders.index(r) if r in holders else -1 for r in named]
    if named and named[-1] == holders[-1] and -1 not in at and at == sorted(set(at)):
        return
    locations.problems.append(
        _(
            "%(where)s: indexed-repeat() must name repeats that hold '%(name)s', outermost "
            "first, the last being its own (%(holders)s), not %(given)s.",
            where=where,
            name=name,
            holders="/".join(holders),
            given="/".join(named),
        )
    )


def _check_expressions(spec: InstrumentSpec, locations: _Locations) -> None:
    """Parse every expression with our engine; check names exist; refuse circular references."""
    known = set(spec.questions_by_name) | set(spec.repeats_by_name)
    dependencies: dict[str, set[str]] = {}

    def check(
        owner: str, column: str, text: str | None, *, choice_filter: bool = False
    ) -> set[str]:
        if not text:
            return set()
        try:
            node = expressions.parse(text, choice_filter=choice_filter)
        except expressions.ExpressionError as error:
            locations.problems.append(f"{locations.at(owner, column)}: {error}")
            return set()
        refs = set(expressions.references(node))
        if column != "default":
            for name in sorted(expressions.last_saved_names(node)):
                locations.warnings.append(
                    _(
                        "%(where)s: ${last-saved#%(name)s} reads the last saved interview only "
                        "in the default column; here the web form reads it as empty (ODK "
                        "Collect reads the device's last saved form).",
                        where=locations.at(owner, column),
                        name=name,
                    )
                )
        for bare in sorted(expressions.bare_names(node)):
            locations.warnings.append(
                _(
                    "%(where)s: '%(name)s' without ${…} is read as ODK reads it, as an empty "
                    "value (false), not as an answer. Write ${%(name)s} for the answer of a "
                    "question, or true() and false().",
                    where=locations.at(owner, column),
                    name=bare,
                )
            )
        unknown_lists = {n for n in expressions.instance_lists(node) if not spec.instance_list(n)}
        for list_name in sorted(unknown_lists):
            locations.problems.append(
                _(
                    "%(where)s: instance('%(list)s') reads a choice list that is not on the "
                    "choices sheet.",
                    where=locations.at(owner, column),
                    list=list_name,
                )
            )
        for name, named in expressions.indexed_repeat_calls(node):
            _check_indexed_repeat(spec, locations.at(owner, column), name, named, locations)
        for name in sorted(expressions.choice_name_questions(node)):
            target = spec.questions_by_name.get(name)
            if target is None or not target.choice_list:
                locations.problems.append(
                    _(
                        "%(where)s: jr:choice-name() needs a select question, and '%(name)s' "
                        "is not one.",
                        where=locations.at(owner, column),
                        name=name,
                    )
                )
        for missing in sorted((refs | expressions.last_saved_names(node)) - known):
            locations.problems.append(
                _(
                    "%(where)s: '%(name)s' is not the name of a question.",
                    where=locations.at(owner, column),
                    name=missing,
                )
            )
        return refs & known

    for section in spec.sections:
        section_refs = check(section.name, "relevant", section.relevant)
        dependencies[section.name] = section_refs
        for item in section.items:
            if isinstance(item, Repeat):
                for repeat in item.iter_repeats():
                    dependencies[repeat.name] = (
                        check(repeat.name, "relevant", repeat.relevant)
                        | check(repeat.name, "repeat_count", repeat.repeat_count)
                        | ({repeat.repeat} if repeat.repeat else set())
                    )
                members = tuple(q for r in item.iter_repeats() for q in r.questions)
            else:
                members = (item,)
            for q in members:
                texts = (
                    ("label", q.labels),
                    ("hint", q.hints),
                    ("constraint_message", q.constraint_messages),
                    ("required_message", q.required_messages),
                )
                for column, by_language in texts:
                    for text in dict.fromkeys(by_language.values()):
                        for output in piping.outputs(text):
                            check(q.name, column, output)
                # A default runs once, at creation: it reads answers but is no dependency.
                check(q.name, "default", q.default_expression)
                check(q.name, "required", q.required_if)
                check(q.name, "read_only", q.read_only_if)
                refs = check(q.name, "relevant", q.relevant)
                refs |= check(q.name, "calculation", q.calculation)
                refs |= check(q.name, "choice_filter", q.choice_filter, choice_filter=True)
                check(q.name, "constraint", q.constraint)
                if q.choice_list and q.choice_list not in spec.choices:
                    locations.problems.append(
                        _(
                            "%(where)s: the choice list '%(list)s' is not on the choices sheet.",
                            where=locations.at(q.name, "type"),
                            list=q.choice_list,
                        )
                    )
                # A question is shown only when its section (and repeat) is.
                dependencies[q.name] = refs | {section.name} | ({q.repeat} if q.repeat else set())
    # A nested group's label and hint show answers as its questions' texts do.
    for group in spec.groups:
        for column, by_language in (("label", group.labels), ("hint", group.hints)):
            for text in dict.fromkeys(by_language.values()):
                for output in piping.outputs(text):
                    check(group.name, column, output)
    cycle = _find_cycle(dependencies)
    if cycle:
        path = " → ".join(f"'{n}' (row {locations.rows.get(n, '?')})" for n in cycle)
        locations.problems.append(
            _(
                "%(where)s: circular reference between %(path)s. A relevant or calculation "
                "cannot depend on itself, directly or through other questions.",
                where=workbook_place("survey"),
                path=path,
            )
        )


def _find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A list of names forming a cycle in the dependency graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return None
