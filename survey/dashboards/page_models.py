"""Dashboard page models as plain values: templates never see a DataFrame or an ORM object, only
strings, numbers and the generated SVG.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.formatting import DASH


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and what it is (count cells are checked for small numbers)."""

    text: str
    kind: str = "text"  # text | label | count | number | interval
    suppressed: bool = False
    indicative: bool = False
    submission_id: int | None = None
    indicator: str | None = None


@dataclass(frozen=True)
class Table:
    """A table with a caption; the first cell of each row labels it."""

    caption: str
    head: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    sections: tuple[tuple[int, str], ...] = ()  # (row index, heading) rows inserted before

    @property
    def has_suppressed(self) -> bool:
        """Whether any cell is hidden (the legend is then shown)."""
        return any(cell.suppressed for row in self.rows for cell in row)

    @property
    def has_dash(self) -> bool:
        """Whether any cell shows the no-data dash."""
        return any(cell.text == DASH for row in self.rows for cell in row)

    @property
    def has_indicative(self) -> bool:
        """Whether any estimate rests on fewer than 30 answers."""
        return any(cell.indicative for row in self.rows for cell in row)

    def section_at(self, index: int) -> str | None:
        """The heading to show before row `index`, if any."""
        return dict(self.sections).get(index)


@dataclass(frozen=True)
class Chart:
    """A generated SVG chart (safe markup) and the table that shows the same numbers."""

    svg: str
    title: str
    description: str
    table: Table


@dataclass(frozen=True)
class Summary:
    """What every page says about the data it shows."""

    analysed: str
    analysed_count: int
    excluded: tuple[tuple[str, str], ...]
    demo: str
    demo_count: int
    unweighted: bool
    empty: str | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    role: str
    k: int


@dataclass(frozen=True)
class OverviewPage:
    """Progress of the fieldwork."""

    summary: Summary
    headline: tuple[tuple[str, str], ...]
    districts: Chart | None
    progress: Chart | None
    days: Chart | None
    volunteers: Table | None
    refusals: Table | None
    targets: tuple[tuple[str, str, int | None], ...]


@dataclass(frozen=True)
class NeedsPage:
    """Ranked needs and JIAF-inspired severity."""

    summary: Summary
    rankings: tuple[Chart, ...]
    severity: Chart | None
    one_group: str | None


@dataclass(frozen=True)
class IndicatorsPage:
    """Every indicator of the plan with its CI and n, and one chosen indicator charted."""

    summary: Summary
    chart: Chart | None
    table: Table | None
    one_group: str | None


@dataclass(frozen=True)
class QuestionsPage:
    """Frequencies of one question."""

    summary: Summary
    chart: Chart | None
    table: Table | None
    one_group: str | None


@dataclass(frozen=True)
class QualityPage:
    """Data-quality checks for coordinators."""

    summary: Summary
    durations: Chart | None
    duration_stats: tuple[tuple[str, str], ...]
    duration_outliers: Table | None
    nonresponse: Table | None
    straightlining: Table | None
    duplicates: Table | None
    volunteers: Table | None
