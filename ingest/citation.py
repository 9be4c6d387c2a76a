"""Which of a snapshot's payloads hold a value, so that an export cites the file the value came from."""

from __future__ import annotations

import re
from functools import cache

from ingest.registry import CONNECTORS

_FIELD = "{municipality}"


def is_data_request(protocol: str, method: str, url: str) -> bool:
    """Whether a payload of a protocol's fetch holds values (a source to cite), not only finds or describes
    them (CKAN's package_show, PxWeb's table metadata, SDMX structures, folder listings): the connector
    declares it (`is_data_request`); a connector that does not fetches data payloads only."""
    check = getattr(CONNECTORS.get(protocol), "is_data_request", None)
    return True if check is None else bool(check(method, url))


@cache
def _area_pattern(url_template: str) -> re.Pattern[str] | None:
    if _FIELD not in url_template:
        return None
    before, after = url_template.split(_FIELD, 1)
    return re.compile(re.escape(before) + r"0*(\d{1,3})" + re.escape(after) + r"$")


def area_of_url(url_template: str, url: str) -> str | None:
    """The municipality a payload's URL names where the catalogue's URL template has a {municipality}
    field (Syke's `kunta_{municipality}.csv`: `kunta_49.csv` and `kunta_049.csv` → "049"); else None."""
    pattern = _area_pattern(url_template)
    found = pattern.match(url) if pattern is not None else None
    return found.group(1).zfill(3) if found else None
