"""Demo snapshot for Fingrid: 28 days of 3-minute emission factors ending the day before 2026-11-23."""

from __future__ import annotations

import hashlib
import json
import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common.helsinki import HELSINKI
from common.payload import RequestSpec
from ingest.catalogue import load_catalogue
from ingest.fingrid import dataset_url, format_time, page_params, window
from ingest.manifest import Manifest
from ingest.replay import record_exchange

DATASET = "fingrid_emission_factor"
SEED = 265
# The snapshot's "today". The offline run must ask for the same window: give the connector this date,
# either as options.reference_date = "2026-11-23" or as its clock (FingridConnector(clock=...)).
DEMO_REFERENCE_DATE = date(2026, 11, 23)
RESPONSE_DATE = "Mon, 23 Nov 2026 03:30:04 GMT"
INTERVAL = timedelta(minutes=3)
# A data outage of one hour (20 values missing): that day and its ISO week are flagged "partial".
GAP_START = datetime(2026, 11, 12, 10, 0, tzinfo=HELSINKI)
GAP = timedelta(hours=1)


def values(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """(start time, gCO2/kWh) every 3 minutes: a weather-driven level, a daily cycle and noise."""
    rng = random.Random(SEED)
    level = 45.0
    series: list[tuple[datetime, float]] = []
    moment = start
    gap_start, gap_end = GAP_START.astimezone(UTC), (GAP_START + GAP).astimezone(UTC)
    while moment < end:
        local = moment.astimezone(HELSINKI)
        hour = local.hour + local.minute / 60
        if local.minute == 0 and local.hour == 0:
            level = min(95.0, max(12.0, level + rng.uniform(-9.0, 9.0)))  # day-to-day weather
        daily = (
            1 + 0.18 * math.sin((hour - 6) / 24 * 2 * math.pi) + 0.08 * math.sin((hour - 15) / 12 * math.pi)
        )
        value = max(3.0, level * daily + rng.uniform(-2.5, 2.5))
        if not gap_start <= moment < gap_end:
            series.append((moment, round(value, 1)))
        moment += INTERVAL
    return series


def page_bytes(dataset: int, series: list[tuple[datetime, float]], page_size: int) -> bytes:
    """The single page the window fits in, in the API's JSON shape."""
    if len(series) > page_size:
        raise ValueError("the demo window is meant to fit one page; raise page_size or shorten the window")
    data = [
        {
            "datasetId": dataset,
            "startTime": format_time(moment),
            "endTime": format_time(moment + INTERVAL),
            "value": value,
        }
        for moment, value in series
    ]
    pagination = {
        "total": len(data),
        "lastPage": 1,
        "prevPage": None,
        "nextPage": None,
        "perPage": page_size,
        "currentPage": 1,
        "from": 1,
        "to": len(data),
    }
    return json.dumps({"data": data, "pagination": pagination}, separators=(",", ":")).encode("utf-8")


# The datasets' names as data.fingrid.fi's dataset pages give them, in Finnish and English: the probe checks
# that 265 is the consumed electricity's (SOURCES.md). The description's other keys are left out: the shape
# of GET /api/datasets/{id} beyond its name keys is not known here.
NAMES = {
    265: (
        "Suomeen kulutetun sähkön päästökerroin - reaaliaikatieto",
        "Emission factor for electricity consumed in Finland - real time data",
    ),
    266: (
        "Suomen sähköntuotannon päästökerroin - reaaliaikatieto",
        "Emission factor of electricity production in Finland - real time data",
    ),
}


def description_bytes(dataset: int) -> bytes:
    """The answer of GET /api/datasets/{dataset} as far as the probe reads it: its id and names."""
    name_fi, name_en = NAMES[dataset]
    return json.dumps({"id": dataset, "nameFi": name_fi, "nameEn": name_en}, ensure_ascii=False).encode()


def generate(folder: Path, manifest: Manifest) -> None:
    """Record the one page the Fingrid connector asks for when today is DEMO_REFERENCE_DATE."""
    spec = load_catalogue().dataset(DATASET)
    dataset = int(spec.options["dataset"])
    page_size = int(spec.options["page_size"])
    start, end = window(DEMO_REFERENCE_DATE, int(spec.options["days"]))
    body = page_bytes(dataset, values(start, end), page_size)
    record_exchange(
        folder,
        manifest,
        DATASET,
        RequestSpec("GET", dataset_url(spec), tuple(page_params(start, end, page_size, 1))),
        200,
        {
            "content-type": "application/json; charset=utf-8",
            "content-length": str(len(body)),
            "etag": 'W/"' + hashlib.sha256(body).hexdigest()[:27] + '"',
            "date": RESPONSE_DATE,
        },
        body,
        f"{DATASET}/page_1.json",
    )
