"""Whether a dataset's rows may be published (reports, exports): restricted ones need a declared licence."""

from __future__ import annotations

from common.config import Settings, get_settings
from ingest.catalogue import Catalogue, DatasetSpec, load_catalogue

__all__ = ["declared_licence", "publishable"]


def _spec(dataset_id: str, catalogue: Catalogue) -> DatasetSpec:
    """The dataset's entry, whether it is ingested or an opt-in left disabled."""
    if dataset_id in catalogue.disabled:
        return catalogue.disabled[dataset_id]
    return catalogue.dataset(dataset_id)  # KeyError naming the known datasets


def declared_licence(
    dataset_id: str, *, catalogue: Catalogue | None = None, settings: Settings | None = None
) -> str | None:
    """The licence declared for a restricted dataset (its `licence_setting`), None when none is."""
    spec = _spec(dataset_id, catalogue or load_catalogue())
    if not spec.restricted or spec.licence_setting is None:
        return None
    value = getattr(settings or get_settings(), spec.licence_setting)
    return value.strip() if isinstance(value, str) and value.strip() else None


def publishable(
    dataset_id: str, *, catalogue: Catalogue | None = None, settings: Settings | None = None
) -> bool:
    """True when the dataset's rows may appear in a report or an export.

    Every dataset is publishable except a `restricted` one (CDP-ICLEI: cdp.net's terms forbid use beyond
    internal use without written consent), which is only when a licence is declared in its setting
    (KESTAVA_CDP_LICENCE). An unknown dataset id raises KeyError: never guess that something may go out.
    """
    spec = _spec(dataset_id, catalogue or load_catalogue())
    if not spec.restricted:
        return True
    return declared_licence(dataset_id, catalogue=catalogue, settings=settings) is not None
