"""The instrument as the application understands it: frozen, JSON-serialisable, language-aware.

Built once from pyxform's output at import, stored with the version, and read back from JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_REQUIRED_MESSAGE = "required"
# Filled in by the device (ODK Collect) or the server (web form), never typed by a volunteer.
METADATA_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "subscriberid",
        "simserial",
        "phonenumber",
        "username",
        "email",
        "audit",
        "start_geopoint",
    }
)


@dataclass(frozen=True, eq=False)
class Choice:
    """One option of a choice list: its code, labels per language and filter columns."""

    name: str
    labels: Mapping[str, str]
    filters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Question:
    """A question (or note/calculate) with its rules, as written in the XLSForm."""

    name: str
    type: str
    labels: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    required: bool = False
    required_messages: Mapping[str, str] = field(default_factory=dict)
    relevant: str | None = None
    constraint: str | None = None
    constraint_messages: Mapping[str, str] = field(default_factory=dict)
    calculation: str | None = None
    default: str | None = None
    # A default given as an expression (pyxform's dynamic default: '${last-saved#q}', today(),
    # ...), evaluated once when the interview or the repeat entry is created, as ODK does.
    default_expression: str | None = None
    appearance: str | None = None
    choice_list: str | None = None
    choice_filter: str | None = None
    section: str | None = None
    repeat: str | None = None
    row: int | None = None
    # The XLSForm parameters column as pyxform parsed it (range start/end/step, randomize, ...).
    parameters: Mapping[str, str] = field(default_factory=dict)
    read_only: bool = False
    # required and read_only given as expressions: the question is required (read-only) while
    # the expression holds, as ODK evaluates them.
    required_if: str | None = None
    read_only_if: str | None = None
    # The innermost group below the section (or repeat) holding the question, and the XForm
    # path of its element from the instance root ('household/members/age'); None in versions
    # stored before groups could nest, where the path is the section and the name.
    group: str | None = None
    path: str | None = None

    @property
    def has_input(self) -> bool:
        """Whether the volunteer types or picks a value."""
        return self.type not in {"note", "calculate", "hidden"} and not self.is_metadata

    @property
    def is_metadata(self) -> bool:
        """Whether the device or the server fills the value in (start, end, deviceid, ...)."""
        return self.type in METADATA_TYPES

    @property
    def shuffles_choices(self) -> bool:
        """Whether a select shows its choices shuffled (`randomize=true` in its parameters)."""
        randomize = self.parameters.get("randomize", "").strip().lower()
        return bool(self.choice_list) and randomize in {"true", "yes", "true()"}

    @property
    def choice_seed(self) -> str | None:
        """The expression of a shuffled select's seed (`seed=${q}` or a number), if any."""
        text = self.parameters.get("seed", "").strip() if self.shuffles_choices else ""
        return text or None


@dataclass(frozen=True, eq=False)
class Repeat:
    """A repeated block (the household roster): one entry per member."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    relevant: str | None = None
    repeat_count: str | None = None
    questions: tuple[Question, ...] = ()
    section: str | None = None
    row: int | None = None
    group: str | None = None
    path: str | None = None
    # A repeat inside a repeat: the enclosing repeat, and how many of its questions come
    # before it (so the entry shows both in document order). Inner repeats are in `repeats`.
    repeat: str | None = None
    after: int = 0
    repeats: tuple[Repeat, ...] = ()

    def entry_items(self) -> list[Question | Repeat]:
        """The entry's questions and inner repeats in document order."""
        out: list[Question | Repeat] = []
        inner = sorted(self.repeats, key=lambda r: r.after)
        for index, question in enumerate(self.questions):
            while inner and inner[0].after <= index:
                out.append(inner.pop(0))
            out.append(question)
        return out + inner

    def iter_repeats(self) -> Iterator[Repeat]:
        """This repeat and every repeat inside it, outer first."""
        yield self
        for inner in self.repeats:
            yield from inner.iter_repeats()


@dataclass(frozen=True, eq=False)
class Group:
    """A group inside a section or a repeat, at any depth: a heading around its questions.

    Its relevant is also folded into the relevant of every question and repeat inside it, so
    the rules need not know about groups; `relevant` here is the group's own, for display.
    """

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    relevant: str | None = None
    appearance: str | None = None
    # The enclosing group, or None when the group sits directly in its section or repeat.
    parent: str | None = None
    section: str | None = None
    repeat: str | None = None
    path: str | None = None
    row: int | None = None


@dataclass(frozen=True, eq=False)
class Section:
    """A top-level group: one screen of the volunteer's form."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    relevant: str | None = None
    appearance: str | None = None
    items: tuple[Question | Repeat, ...] = ()
    row: int | None = None


@dataclass(frozen=True, eq=False)
class IntakeRules:
    """Which questions decide consent, eligible age and district (XLSForm settings columns).

    A rule applies only where the settings sheet declares its question: '' means no rule, so a
    form that happens to have a question named 'consent' or 'age' is not trimmed silently.
    """

    consent_question: str = ""
    consent_value: str = "yes"
    age_question: str = ""
    minimum_age: int = 18
    district_question: str = ""
    date_question: str = "interview_date"


@dataclass(frozen=True)
class AnalysisDesign:
    """The sampling design named on the settings sheet (analysis_weight, analysis_strata,
    analysis_cluster): questions holding the design weight, stratum and cluster (PSU).

    Without a weight the analysis is unweighted (Kish's effective n when a plan weight is set);
    with one, intervals are design-based (Taylor linearisation).
    """

    weight: str | None = None
    strata: str | None = None
    cluster: str | None = None


LEGACY_INTAKE = {
    "consent_question": "consent",
    "age_question": "age",
    "district_question": "district",
}


def questions_in(sections: Iterable[Section]) -> Iterator[Question]:
    """Every question of these sections in document order, including those inside repeats."""
    for section in sections:
        for item in section.items:
            if isinstance(item, Repeat):
                for repeat in item.iter_repeats():
                    yield from repeat.questions
            else:
                yield item


@dataclass(frozen=True, eq=False)
class InstrumentSpec:
    """A whole instrument version."""

    form_id: str
    version: str
    title: str
    default_language: str
    languages: tuple[str, ...]
    sections: tuple[Section, ...]
    choices: Mapping[str, tuple[Choice, ...]]
    intake: IntakeRules = field(default_factory=IntakeRules)
    design: AnalysisDesign = field(default_factory=AnalysisDesign)
    # Rows of the optional 'analysis' and 'severity' sheets (column → text, plus '_row'),
    # turned into a reports.analysis plan by survey.instruments.analysis_plan.
    analysis_rows: tuple[Mapping[str, str], ...] = ()
    severity_rows: tuple[Mapping[str, str], ...] = ()
    # form_title::<language> columns of the settings sheet; `title` is the fallback.
    titles: Mapping[str, str] = field(default_factory=dict)
    # settings: the instance_name expression (shown in lists of submissions) and style (pages).
    instance_name: str | None = None
    style: str | None = None
    # Kinds of identifying data the admin confirmed at import ('precise_location', 'device_ids',
    # 'media', 'phone_numbers'); whatever is not confirmed is coarsened or dropped on arrival,
    # or refused (phone numbers in free text).
    identifying_kept: tuple[str, ...] = ()
    # Groups inside sections and repeats (a section is a top-level group), in document order.
    groups: tuple[Group, ...] = ()
    # CSV attachments pulldata() reads, by file name without '.csv': rows of column → text.
    lookup_tables: Mapping[str, tuple[Mapping[str, str], ...]] = field(default_factory=dict)

    # -- navigation -------------------------------------------------------------------------
    def iter_questions(self) -> Iterator[Question]:
        """Every question in document order, including those inside repeats."""
        return questions_in(self.sections)

    def iter_repeats(self) -> Iterator[Repeat]:
        """Every repeat, repeats inside repeats included (each after the one holding it)."""
        for section in self.sections:
            for item in section.items:
                if isinstance(item, Repeat):
                    yield from item.iter_repeats()

    def repeat_chain(self, repeat: str | None) -> list[Repeat]:
        """The repeats enclosing an item, outermost first, from its innermost repeat."""
        chain: list[Repeat] = []
        while repeat is not None and repeat in self.repeats_by_name and len(chain) < 100:
            chain.insert(0, self.repeats_by_name[repeat])
            repeat = chain[0].repeat
        return chain

    @functools.cached_property
    def questions_by_name(self) -> dict[str, Question]:
        """Questions keyed by name."""
        return {q.name: q for q in self.iter_questions()}

    @functools.cached_property
    def repeats_by_name(self) -> dict[str, Repeat]:
        """Repeats keyed by name."""
        return {r.name: r for r in self.iter_repeats()}

    @functools.cached_property
    def groups_by_name(self) -> dict[str, Group]:
        """Nested groups keyed by name."""
        return {g.name: g for g in self.groups}

    def group_chain(self, group: str | None) -> list[Group]:
        """The groups enclosing an item, outermost first, from its innermost group."""
        chain: list[Group] = []
        while group is not None and group in self.groups_by_name and len(chain) < 100:
            chain.insert(0, self.groups_by_name[group])
            group = chain[0].parent
        return chain

    @functools.cached_property
    def sections_by_name(self) -> dict[str, Section]:
        """Sections keyed by name."""
        return {s.name: s for s in self.sections}

    def instance_list(self, name: str) -> str | None:
        """The choice list instance('name') reads: a list of the choices sheet, or the file
        'name.csv' / 'name.geojson' / 'name.xml' of a select_*_from_file (ODK names the
        secondary instance of a file after its stem)."""
        if name in self.choices:
            return name
        return next(
            (key for key in self.choices if "." in key and key.rsplit(".", 1)[0] == name), None
        )

    def title_in(self, language: str) -> str:
        """The form's title in a language, or its one title when not translated."""
        return self.titles.get(language) or self.title

    def label(self, labels: Mapping[str, str], language: str) -> str:
        """The text in a language, falling back to the default language, English, any."""
        for lang in (language, self.default_language, "en"):
            if labels.get(lang):
                return labels[lang]
        return next((text for text in labels.values() if text), "")

    def choice_label(self, list_name: str, code: str, language: str) -> str:
        """The label of one choice code, or the code itself when unknown."""
        for choice in self.choices.get(list_name, ()):
            if choice.name == code:
                return self.label(choice.labels, language) or code
        return code

    # -- storage ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict; from_json() reads it back."""
        data = asdict(self)
        for section, raw in zip(self.sections, data["sections"], strict=True):
            for item, raw_item in zip(section.items, raw["items"], strict=True):
                raw_item["kind"] = "repeat" if isinstance(item, Repeat) else "question"
                if isinstance(item, Repeat) and not item.repeats:
                    # Versions without repeats in repeats keep the JSON they always had.
                    for key in ("repeat", "after", "repeats"):
                        raw_item.pop(key)
        data["choices"] = {k: [asdict(c) for c in v] for k, v in self.choices.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstrumentSpec:
        """Rebuild the spec stored by to_json()."""

        def question(raw: Mapping[str, Any]) -> Question:
            raw = {k: v for k, v in raw.items() if k != "kind"}
            return Question(**raw)

        def repeat(raw: Mapping[str, Any]) -> Repeat:
            values = {k: v for k, v in raw.items() if k not in {"kind", "questions", "repeats"}}
            return Repeat(
                **values,
                questions=tuple(question(q) for q in raw["questions"]),
                repeats=tuple(repeat(r) for r in raw.get("repeats", ())),
            )

        def item(raw: Mapping[str, Any]) -> Question | Repeat:
            if raw.get("kind") == "repeat":
                return repeat(raw)
            return question(raw)

        sections = tuple(
            Section(
                name=s["name"],
                labels=s["labels"],
                relevant=s["relevant"],
                appearance=s["appearance"],
                items=tuple(item(i) for i in s["items"]),
                row=s.get("row"),
            )
            for s in data["sections"]
        )
        choices = {
            name: tuple(Choice(**c) for c in items) for name, items in data["choices"].items()
        }
        return cls(
            form_id=data["form_id"],
            version=data["version"],
            title=data["title"],
            default_language=data["default_language"],
            languages=tuple(data["languages"]),
            sections=sections,
            choices=choices,
            # Versions stored before intake rules had to be declared kept the old defaults.
            intake=IntakeRules(**data.get("intake", LEGACY_INTAKE)),
            design=AnalysisDesign(**data.get("design", {})),
            analysis_rows=tuple(data.get("analysis_rows", ())),
            severity_rows=tuple(data.get("severity_rows", ())),
            instance_name=data.get("instance_name"),
            style=data.get("style"),
            identifying_kept=tuple(data.get("identifying_kept", ())),
            titles=dict(data.get("titles", {})),
            groups=tuple(Group(**g) for g in data.get("groups", ())),
            lookup_tables={
                name: tuple(rows) for name, rows in data.get("lookup_tables", {}).items()
            },
        )
