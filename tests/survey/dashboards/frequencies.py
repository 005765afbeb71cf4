"""A plan with single-choice frequencies added, so that the attack meets them too."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reports.analysis.plan import Indicator
from survey.dashboards import estimates
from survey.instruments.registry import describe


def add_frequencies(monkeypatch: Any, count: int = 4) -> None:
    """The instrument's plan plus a frequency of `count` single-choice questions (the default
    plan publishes frequencies only of the star variables, which are the respondent counts)."""
    original = estimates.plan_of

    def plan_of(spec: Any) -> Any:
        plan, problems = original(spec)
        star = next(i for i in plan.indicators if i.kind == "proportion").disaggregations
        extra = [
            Indicator(
                f"freq_{question.name}",
                kind="frequency",
                column=question.name,
                codes=tuple(choice.code for choice in question.choices),
                labels=dict(question.labels),
                unit="respondent",
                disaggregations=star,
                chapter=question.section,
            )
            for question in describe(spec)
            if question.measure == "categorical"
            and not question.repeat
            and question.name not in star
            and len(question.choices) >= 3
        ][:count]
        return replace(plan, indicators=(*plan.indicators, *extra)), problems

    monkeypatch.setattr(estimates, "plan_of", plan_of)
