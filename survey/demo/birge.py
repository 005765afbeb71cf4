"""The default instrument's demo profile: the skews of DOMAIN.md §1, §3–§5.

Abai region first, an older first generation, more women, certificate gaps, health and distress
patterns, the needs ranking. One module, past 600 lines, because it is one profile: a table of
weights and one hook per question of the default instrument, read side by side with it.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from survey.demo.walker import EXCLUSIVE_CODES, GENERIC, DemoProfile, DemoState
from survey.instruments.spec import InstrumentSpec, Repeat

DEFAULT_FORM_ID = "birge_needs_assessment"


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
