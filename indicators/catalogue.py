"""The declarative indicator catalogue (catalogue.toml) as validated, typed records."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.units import check_unit
from indicators.method_ids import METHOD_IDS

CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")
LANGUAGES = ("fi", "sv", "en")
# every progress-assessment method, one module each under indicators/methods/ (its registry lists them)
METHODS = METHOD_IDS
# the kind an indicator's own values are stored with when they are no source's figures, by derive kind:
# residual is the value the reduction target sets (e.g. 20 % of 1990), share_of_year an assumed share of
# one year's value; every other derivation (sums, ratios, indices, … of sources' figures) is "observed"
DERIVED_VALUE_KINDS: Final = {"residual": "target_derived", "share_of_year": "assumption"}
# the areas the tracker is about: Espoo, and Finland where a national series stands in for it. A dataset's
# freshness is judged on these for an indicator that lists no areas of its own (which publishes every area
# its inputs have, EU-27 and peers too: theirs are comparisons, and a comparison behind does not make the
# tracker's own figures late)
HOME_AREAS: Final[tuple[str, ...]] = ("049", "FI")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A text in Finnish, Swedish and English."""

    fi: str
    sv: str
    en: str

    def get(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
        return str(getattr(self, lang))


class Bounds(_Model):
    """The range a quantity can take (an amount is never below 0, a share never above 100 %): a trend
    projection and its band are cut at it, as a straight line beyond it is no forecast."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Bounds:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"bounds: min {self.min} must be below max {self.max}")
        return self


class Sdg(_Model):
    goal: int = Field(ge=1, le=17)
    target: str
    indicator: str


Match = dict[str, str | list[str]]


class BreakdownRule(_Model):
    key: str
    match: Match


class RegionTotal(_Model):
    area: str
    of: list[str]


class SectorBreakdown(_Model):
    """Breakdown rules taken from a dataset's sector table (ingest catalogue `sectors`), keyed by a level."""

    dataset: str
    level: Literal["sector", "group"]


class SumDerivation(_Model):
    kind: Literal["sum", "select"]
    dataset: str
    filter: Match = Field(default_factory=dict)
    unit_in: str
    scale: float = 1.0
    breakdown: list[BreakdownRule] = Field(default_factory=list)
    breakdown_from: SectorBreakdown | None = None
    totals: list[RegionTotal] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _expand_breakdown_from(cls, data: Any) -> Any:
        """`breakdown_from` becomes the breakdown rules: one per sector-table row, first match wins."""
        if not isinstance(data, dict) or data.get("breakdown_from") is None:
            return data
        if data.get("breakdown"):
            raise ValueError("a sum declares either breakdown or breakdown_from, not both")
        from ingest.catalogue import load_catalogue  # the ingest catalogue holds the sector tables

        source = SectorBreakdown.model_validate(data["breakdown_from"])
        rules = load_catalogue().dataset(source.dataset).sectors
        if not rules:
            raise ValueError(f"breakdown_from: dataset {source.dataset!r} has no sector table")
        rows = [{"key": getattr(rule, source.level), "match": dict(rule.match)} for rule in rules]
        return {**data, "breakdown": rows}


class RatioDerivation(_Model):
    kind: Literal["ratio"]
    numerator: str
    denominator: str
    scale: float = 1.0


class IndexDerivation(_Model):
    kind: Literal["index"]
    of: str
    base_year: int


class ChangeDerivation(_Model):
    """Percent change of an indicator on the previous year, or on a base year."""

    kind: Literal["change"]
    of: str
    against: Literal["previous_year", "base_year"]
    base_year: int | None = None

    @model_validator(mode="after")
    def _base_year_given(self) -> ChangeDerivation:
        if self.against == "base_year" and self.base_year is None:
            raise ValueError("a change against the base year needs base_year")
        return self


class ResidualDerivation(_Model):
    kind: Literal["residual"]
    of: str


class ShareOfYearDerivation(_Model):
    """share × `of` in one year: a share someone states (stated_by, in the statement `source`, published at
    `url` when one is known), not a source's figure; its values are assumptions (DERIVED_VALUE_KINDS)."""

    kind: Literal["share_of_year"]
    of: str
    year: int
    share: float = Field(gt=0, lt=1)
    source: str
    stated_by: Text
    url: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ShareOfYearDerivation:
        if self.url is not None and (
            not self.url.startswith(("https://", "http://")) or any(c.isspace() for c in self.url)
        ):
            raise ValueError(f"share_of_year: url must be an http(s) address, no spaces: {self.url!r}")
        return self


class ReconcileDerivation(_Model):
    """A cross-source check (indicators/reconcile.py): `of` against `against`, in % of `against`, per area
    and period; a difference beyond `tolerance` (percentage points) is a warning, never a rejection."""

    kind: Literal["reconcile"]
    of: str
    against: str
    tolerance: float = Field(gt=0)
    why: str = ""


class ReconcileTotalDerivation(_Model):
    """A cross-check of parts and whole: the sum of `of` over the areas matching `parts` (a regex; default
    municipality numbers) against its value in the area `whole`, in % of the whole, stored under `whole`."""

    kind: Literal["reconcile_total"]
    of: str
    whole: str
    parts: str = r"^\d{3}$"
    tolerance: float = Field(gt=0)
    why: str = ""


Derivation = Annotated[
    SumDerivation
    | RatioDerivation
    | IndexDerivation
    | ChangeDerivation
    | ResidualDerivation
    | ShareOfYearDerivation
    | ReconcileDerivation
    | ReconcileTotalDerivation,
    Field(discriminator="kind"),
]


class ReductionTarget(_Model):
    """A reduction of `reduction` on base_year by `year`, from the same data release (indicators.targets):
    value(base_year) × (1 − reduction) on a level or an index (1990 = 100 → 20 for −80 %), the change it
    means on a series that is the % change on a fixed base year (−80 % → −80)."""

    kind: Literal["reduction_from_base"]
    base_year: int
    reduction: float = Field(gt=0, le=1)
    year: int
    source: str
    areas: list[str] | None = None


class AbsoluteTarget(_Model):
    kind: Literal["absolute"]
    value: float
    year: int
    source: str
    areas: list[str] | None = None


Target = Annotated[ReductionTarget | AbsoluteTarget, Field(discriminator="kind")]


class Indicator(_Model):
    """One indicator: names, unit, desired direction, derivation, SDG mapping, targets and methods."""

    id: str
    name: Text
    # the name without its source, for where the source stands beside it (a peer chart's title names it);
    # None: the name itself
    short_name: Text | None = None
    description: Text
    unit: str
    direction: Literal["decrease", "increase"]
    boundary: str
    derive: Derivation
    sdg: Sdg | None = None
    cei: str | None = None
    targets: list[Target] = Field(default_factory=list)
    assess: list[str] = Field(default_factory=lambda: ["eurostat_sdg", "open_sdg"])
    areas: list[str] | None = None  # None: every area the inputs have
    # a comparison of European peer cities (ingest/peers.toml) within one source and its method: ranks are
    # only ever taken among the peers of this source, never across sources (indicators/peers.py)
    peers: Literal["oecd", "covenant", "urban_audit", "cdp"] | None = None
    # display order: headline indicators first, then by `order`, then catalogue position
    headline: bool = False
    order: int | None = None
    # the range the quantity can take; None: a change or a difference, which may take any value
    bounds: Bounds | None = None

    @model_validator(mode="after")
    def _check(self) -> Indicator:
        check_unit(self.unit)
        unknown = sorted(set(self.assess) - set(METHODS))
        if unknown:
            raise ValueError(f"indicator {self.id!r}: assess: unknown methods {unknown}; known {METHODS}")
        if isinstance(self.derive, SumDerivation):
            check_unit(self.derive.unit_in)
        if isinstance(self.derive, ChangeDerivation) and self.derive.against == "previous_year":
            reductions = [t for t in self.targets if isinstance(t, ReductionTarget)]
            if reductions:
                raise ValueError(
                    f"indicator {self.id!r}: a reduction target needs a level or a change on a fixed base"
                    " year; a change on the previous year has no base to reduce"
                )
        return self

    def short(self, lang: str) -> str:
        """The name in lang for where the source is said beside it (short_name, else the name)."""
        return (self.short_name or self.name).get(lang)

    @property
    def value_bounds(self) -> tuple[float | None, float | None]:
        """(least, greatest) value the quantity can take; None where it has no bound."""
        return (self.bounds.min, self.bounds.max) if self.bounds else (None, None)

    @property
    def projected(self) -> bool:
        """Whether the engine projects the indicator's trend (and nowcasts from it): not for a change on the
        previous year nor two sources' difference, whose trend is no forecast of anything (a change on a fixed
        base year is the level rescaled, and is projected as the level is)."""
        derive = self.derive
        if isinstance(derive, ChangeDerivation):
            return derive.against == "base_year"
        return not isinstance(derive, ReconcileDerivation | ReconcileTotalDerivation)

    @property
    def value_kind(self) -> str:
        """The kind the indicator's own values are stored with: DERIVED_VALUE_KINDS', else observed."""
        return DERIVED_VALUE_KINDS.get(self.derive.kind, "observed")

    @property
    def sdg_code(self) -> str:
        return self.sdg.indicator if self.sdg else ""

    def expanded_ids(self) -> list[str]:
        """The stored indicator ids: one per breakdown key (<id>.<key>, plus <id>.other), else the id."""
        if isinstance(self.derive, SumDerivation) and self.derive.breakdown:
            keys = dict.fromkeys(rule.key for rule in self.derive.breakdown)
            return [f"{self.id}.{key}" for key in [*keys, "other"]]
        return [self.id]

    def dependencies(self) -> list[str]:
        """Indicators this one is derived from."""
        derive = self.derive
        if isinstance(derive, RatioDerivation):
            return [derive.numerator, derive.denominator]
        if isinstance(derive, ReconcileDerivation):
            return [derive.of, derive.against]
        if isinstance(derive, ReconcileTotalDerivation):
            return [derive.of]
        if isinstance(
            derive, IndexDerivation | ChangeDerivation | ResidualDerivation | ShareOfYearDerivation
        ):
            return [derive.of]
        return []


class IndicatorCatalogue(_Model):
    indicators: dict[str, Indicator]

    def get(self, indicator_id: str) -> Indicator:
        base = indicator_id.split(".", 1)[0]
        try:
            return self.indicators[base]
        except KeyError:
            known = ", ".join(sorted(self.indicators))
            raise KeyError(f"unknown indicator {indicator_id!r}; the catalogue has: {known}") from None

    def display_key(self, indicator_id: str) -> tuple[int, int, int, int, str]:
        """Sort key for showing indicators: headline first, catalogue `order`, catalogue position.

        A breakdown row ('ghg_by_subsector.road_transport') follows its parent, never interleaved
        with other indicators; unknown ids go last.
        """
        base, _, part = indicator_id.partition(".")
        ids = list(self.indicators)
        if base not in self.indicators:
            return (2, len(ids), len(ids), 1, indicator_id)
        entry = self.indicators[base]
        order = entry.order if entry.order is not None else len(ids)
        return (0 if entry.headline else 1, order, ids.index(base), 1 if part else 0, part)

    def datasets_of(self, indicator_id: str) -> set[str]:
        """Every dataset an indicator depends on, directly or through other indicators."""
        indicator = self.get(indicator_id)
        found = {indicator.derive.dataset} if isinstance(indicator.derive, SumDerivation) else set()
        for dependency in indicator.dependencies():
            found |= self.datasets_of(dependency)
        return found

    def dataset_areas(self) -> dict[str, frozenset[str]]:
        """Per dataset the areas the tracker uses of it: each indicator's own `areas`, or the home areas
        (HOME_AREAS: Espoo, Finland) of one that lists none; a dataset's freshness is judged on them."""
        found: dict[str, set[str]] = {}
        for indicator_id, indicator in self.indicators.items():
            for dataset in self.datasets_of(indicator_id):
                found.setdefault(dataset, set()).update(indicator.areas or HOME_AREAS)
        return {dataset: frozenset(areas) for dataset, areas in found.items()}

    def affected_by(self, datasets: set[str]) -> list[str]:
        """Indicators (catalogue ids) whose inputs include any of the datasets."""
        return [i for i in self.indicators if self.datasets_of(i) & datasets]


def parse_indicator_catalogue(raw: dict[str, object]) -> IndicatorCatalogue:
    """Validate a catalogue document; ids come from the table keys; dependencies must exist."""
    entries = raw.get("indicators", {})
    if not isinstance(entries, dict):
        raise ValueError("indicator catalogue: expected an [indicators] table")
    indicators = {key: Indicator(id=key, **value) for key, value in entries.items()}
    for indicator in indicators.values():
        for dependency in indicator.dependencies():
            if dependency not in indicators:
                raise ValueError(f"indicator {indicator.id!r}: depends on unknown indicator {dependency!r}")
    _check_unique_names(indicators)
    return IndicatorCatalogue(indicators=indicators)


def _check_unique_names(indicators: dict[str, Indicator]) -> None:
    """Each indicator's name is its own in every language: the export, the API and the site list indicators
    by name, and two series under one name (a peer source's figure beside HSY's) read as one."""
    for lang in LANGUAGES:
        seen: dict[str, str] = {}
        for indicator in indicators.values():
            name = indicator.name.get(lang)
            if name in seen:
                raise ValueError(
                    f"indicator catalogue: {indicator.id!r} and {seen[name]!r} share the {lang} name"
                    f" {name!r}; expected a name of its own (name the source, e.g. '… (OECD)')"
                )
            seen[name] = indicator.id


@cache
def load_indicator_catalogue(path: Path = CATALOGUE_PATH) -> IndicatorCatalogue:
    """Read and validate the indicator catalogue (cached per path)."""
    with path.open("rb") as handle:
        return parse_indicator_catalogue(tomllib.load(handle))
