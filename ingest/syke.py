"""Syke ALas municipal greenhouse gas emissions: one `;`/decimal-comma CSV per municipality."""

from __future__ import annotations

import io
import json
import logging
import math
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

import polars as pl

from common.payload import Fetcher, Payload
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import ValidationError
from ingest.http import HttpError, check_not_html
from ingest.municipalities import (
    MUNICIPALITIES_PATH,
    current_municipality_codes,
    merged_municipalities,
    municipalities,
    municipality_codes,
)

__all__ = [
    "MUNICIPALITIES_PATH",
    "TASO3",
    "URL_FORMS",
    "SykeConnector",
    "UrlFormMemory",
    "current_municipality_codes",
    "merged_municipalities",
    "municipalities",
    "municipality_codes",
    "municipality_url",
    "request_codes",
    "written",
]

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "kt",
    "kt_tuuli",
    "GWh",
    "hinku_laskenta",
    "päästökauppa",
    "vuosi",
    "taso_3",
    "taso_4",
    "taso_5",
)
NULL_MARKERS = ["NA", "NULL", ""]
FIRST_YEAR = 1990

# taso_3 code -> (name, taso_2, taso_1). The codes are those of SOURCES.md; taso_2 is the code's full
# Finnish name and taso_1 the main group, named like HSY's Sektori1 so that the two sources line up.
TASO3: Mapping[str, tuple[str, str, str]] = {
    "Kul": ("Kulutussähkö", "Kulutussähkö", "Sähkö"),
    "Säh": ("Sähkölämmitys", "Sähkölämmitys", "Lämmitys"),
    "Kau": ("Kaukolämpö", "Kaukolämpö", "Lämmitys"),
    "Ölj": ("Öljylämmitys", "Öljylämmitys", "Lämmitys"),
    "Muu": ("Muu lämmitys", "Muu lämmitys", "Lämmitys"),
    "Teo": ("Teollisuus", "Teollisuus", "Teollisuus ja työkoneet"),
    "Työ": ("Työkoneet", "Työkoneet", "Teollisuus ja työkoneet"),
    "Tie": ("Tieliikenne", "Tieliikenne", "Liikenne"),
    "Rai": ("Raideliikenne", "Raideliikenne", "Liikenne"),
    "Ves": ("Vesiliikenne", "Vesiliikenne", "Liikenne"),
    "Maa": ("Maatalous", "Maatalous", "Maatalous"),
    "Jät": ("Jätteiden käsittely", "Jätteiden käsittely", "Jätteiden käsittely"),
    "F-k": ("F-kaasut", "F-kaasut", "F-kaasut"),
    "Tuu": ("Päästöhyvitykset", "Päästöhyvitykset", "Päästöhyvitykset"),
}
# Accept either the code or its full name in the file (matched case-insensitively, NFC).
_TASO3_LOOKUP: dict[str, str] = {
    **{code.lower(): code for code in TASO3},
    **{name.lower(): code for code, (name, _, _) in TASO3.items()},
}
_MEASURES = (
    ("kt", "emissions", "kt CO2e"),
    ("kt_tuuli", "emissions_wind_credit", "kt CO2e"),
    ("GWh", "energy", "GWh"),
)
_DECIMAL_COMMA = r"^[-+]?\d+(,\d+)?([eE][-+]?\d+)?$"
_DOT_DECIMAL = r"^[-+]?\d+\.\d+([eE][-+]?\d+)?$"


def request_codes(spec: DatasetSpec) -> dict[str, str]:
    """Municipality number ("049") -> the number as written in the URL, from the catalogue options.

    `options.municipalities` is a list of numbers or "all" (today's municipalities: 308 since 2025). A
    municipality that has joined another is refused, naming the one to ask for (Syke publishes in the
    current division, so its file is gone). The number is written without zero padding ("49"), as the
    one public client known to work across the 2025 and 2026 releases writes it; SykeConnector.fetch
    falls back to the padded form ("049") on HTTP 404.
    """
    chosen = spec.options.get("municipalities", "all")
    known = set(municipality_codes())
    merged = merged_municipalities()
    if chosen == "all":
        codes = list(current_municipality_codes())
    elif isinstance(chosen, list) and chosen:
        codes = []
        for item in chosen:
            text = str(item).strip()
            if not text.isdigit() or len(text) > 3 or text.zfill(3) not in known:
                raise ValueError(
                    f"catalogue: dataset {spec.id!r}: options.municipalities: {item!r} is not a Finnish "
                    f"municipality number (see {MUNICIPALITIES_PATH.name})"
                )
            code = text.zfill(3)
            if code in merged:
                into, until = merged[code]
                raise ValueError(
                    f"catalogue: dataset {spec.id!r}: options.municipalities: {item!r} no longer exists "
                    f"after {until}: it joined {into}, which the sources now publish it under; ask for {into}"
                )
            codes.append(code)
    else:
        raise ValueError(
            f"catalogue: dataset {spec.id!r}: options.municipalities must be a list of municipality numbers "
            f'or "all", got {chosen!r}'
        )
    if "zero_pad" in spec.options:
        raise ValueError(
            f"catalogue: dataset {spec.id!r}: options.zero_pad is no longer read: the URL is tried without "
            "padding (kunta_49.csv), then padded (kunta_049.csv) on 404; the form that answered is remembered"
        )
    return {code: written(code, "unpadded") for code in dict.fromkeys(codes)}


URL_FORMS = ("unpadded", "padded")


def written(code: str, form: str) -> str:
    """A three-digit municipality number as the URL writes it: "49" unpadded, "049" padded."""
    return str(int(code)) if form == "unpadded" else code.zfill(3)


def default_memory_path() -> Path:
    """Where the URL form that answered is remembered: <data_dir>/state/url_forms.json."""
    from common.config import get_settings

    return get_settings().data_dir / "state" / "url_forms.json"


class UrlFormMemory:
    """The URL form (unpadded "49" or padded "049") that last answered, per dataset, in a small JSON file
    that survives restarts (None: kept in memory only, e.g. for `kestava probe`, which writes nothing)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._forms: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._forms is None:
            self._forms = {}
            if self.path is not None and self.path.exists():
                try:
                    loaded = json.loads(self.path.read_text(encoding="utf-8"))
                except ValueError:
                    log.warning("%s: not JSON; starting again from the unpadded form", self.path)
                    loaded = {}
                if isinstance(loaded, dict):
                    self._forms = {k: v for k, v in loaded.items() if v in URL_FORMS}
        return self._forms

    def get(self, dataset_id: str) -> str:
        """The form to try first: the one that last answered, else unpadded."""
        return self._load().get(dataset_id, URL_FORMS[0])

    def set(self, dataset_id: str, form: str) -> None:
        """Remember the form that answered (written at once, replacing the file in one step)."""
        forms = self._load()
        if forms.get(dataset_id) == form:
            return
        forms[dataset_id] = form
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(forms, indent=1, sort_keys=True), encoding="utf-8")
        temporary.replace(self.path)


def municipality_url(spec: DatasetSpec, written: str) -> str:
    """The file URL for one municipality number as written in the URL (see request_codes)."""
    if "{municipality}" not in spec.url:
        raise ValueError(f"catalogue: dataset {spec.id!r}: url must contain {{municipality}}")
    return spec.url.replace("{municipality}", written)


class SykeConnector(Connector):
    """Protocol `syke_csv`: Syke's ALas results, one CSV per municipality (`Tulokset_taso_5/kunta_N.csv`).

    Output: area = the municipality of the file; dimensions taso_1…taso_5 (taso_1/taso_2 derived from
    the taso_3 code via TASO3; "" where blank), `hinku` and `ets` ("on"/"ei": whether the row counts
    in the Hinku target calculation and whether it is EU ETS), and `measure`: "emissions" (`kt`),
    "emissions_wind_credit" (`kt_tuuli`), both kt CO2e, and "energy" (`GWh`). The accounting rule of
    every row is kept, so Hinku / all-ALas / ETS / non-ETS totals are sums over these dimensions.
    Missing values (`NA`, `NULL`, empty) stay null.
    """

    protocol: ClassVar[str] = "syke_csv"
    reader_version: ClassVar[str] = "syke-csv/2"  # 2: short codes and boolean flags (2025– files)

    def __init__(self, today: Callable[[], date] = date.today, memory: UrlFormMemory | None = None) -> None:
        self._today = today
        self._memory = memory if memory is not None else UrlFormMemory(default_memory_path())

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """One GET per municipality, in catalogue order.

        The number is written in the form that answered last time (unpadded "49" at first). On HTTP 404
        the other form is tried; if it answers, it is used for the rest and remembered. Only a 404 falls
        back: any other failure is the fetch's own error. Both forms 404: a FetchError naming both URLs.
        """
        form = self._memory.get(spec.id)
        payloads = []
        for code in request_codes(spec):
            try:
                payloads.append(self._get(spec, fetcher, code, form))
                continue
            except HttpError as error:
                if error.status != 404:
                    raise
            other = URL_FORMS[1] if form == URL_FORMS[0] else URL_FORMS[0]
            try:
                payloads.append(self._get(spec, fetcher, code, other))
            except HttpError as error:
                if error.status != 404:
                    raise
                tried = [municipality_url(spec, written(code, f)) for f in (form, other)]
                raise HttpError(
                    spec.id,
                    f"municipality {code}",
                    f"a CSV at {tried[0]} or {tried[1]}",
                    "HTTP 404 for both: check the folder name (Tulokset_taso_5) and the file names",
                    status=404,
                ) from None
            log.warning(
                "%s: %s answered 404, %s answered: using and remembering the %s form",
                spec.id,
                municipality_url(spec, written(code, form)),
                municipality_url(spec, written(code, other)),
                other,
            )
            form = other
            self._memory.set(spec.id, form)
        return payloads

    @staticmethod
    def _get(spec: DatasetSpec, fetcher: Fetcher, code: str, form: str) -> Payload:
        url = municipality_url(spec, written(code, form))
        return fetcher.get(spec.id, url, accept="text/csv, */*;q=0.5")

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """All municipalities' CSVs, read as one when they share a header, validated and reshaped together.

        The rows come in file order, each file's rows in CSV order, three times over (one block per
        measure); storage matches observations by series key, so no further order is imposed.
        """
        if not payloads:
            raise ValidationError(spec.id, "payloads", "one CSV per municipality", "none")
        by_url = {
            municipality_url(spec, written(code, form)): code
            for code in request_codes(spec)
            for form in URL_FORMS
        }
        raw = _read_joined(spec.id, payloads, by_url)
        if raw is None:  # something irregular: read file by file, which names the file at fault
            frames = []
            areas: list[str] = []
            for payload in payloads:
                code = by_url.get(payload.request.url)
                if code is None:
                    raise ValidationError(
                        spec.id,
                        "payload URL",
                        "a municipality file named in the catalogue",
                        payload.request.url,
                    )
                frames.append(
                    _read_csv(spec.id, payload).with_columns(pl.lit(len(areas), pl.UInt32).alias(_FILE))
                )
                areas.append(code)
            raw = _Raw(
                pl.concat(frames, how="vertical"),
                areas,
                [_file_name(payload) for payload in payloads],
                [frame.height for frame in frames],
            )
        return _normalise(spec.id, raw, self._today().year)


def _file_name(payload: Payload) -> str:
    return payload.request.url.rsplit("/", 1)[-1]


_BOM = b"\xef\xbb\xbf"
_FILE = "file"
_Kind = Literal["typed", "numbers", "text"]


class _Raw:
    """The files' data rows in file order: the required columns as written (text; the three numbers, the
    year and the flags may be read typed, see `_read_required` and `text`) and `file`, the index of the
    row's file in `areas` (its municipality) and `names`; a row's CSV line follows from `counts`. `data`:
    the joined files, if read that way."""

    def __init__(
        self,
        frame: pl.DataFrame,
        areas: list[str],
        names: list[str],
        counts: list[int],
        data: tuple[bytes, dict[str, str]] | None = None,
    ) -> None:
        self.frame = frame
        self.areas = areas
        self.names = names
        self.starts = list(accumulate(counts, initial=0))
        self.data = data

    def where(self, row: int) -> tuple[str, int]:
        """The file name and CSV line (the header is line 1) of a row."""
        index = self.frame[_FILE][row]
        return self.names[index], row - self.starts[index] + 2

    def text(self) -> pl.DataFrame:
        """The frame with every required column as text: the joined files read again as text when their
        numbers (and perhaps year, flags and sectors) were read typed."""
        if self.data is None or self.frame.schema[_NUMERIC[0]] == pl.String:
            return self.frame
        return _read_required(*self.data, "text").with_columns(self.frame[_FILE])


def _plain_numbers(
    data: bytes, header: bytes, bodies: Sequence[bytes], texts: pl.Series | None = None
) -> bool:
    """Whether polars' own decimal-comma reading of the numbers in `data` (`header`, a line end and the
    data lines of `bodies`, each ended by a line end) accepts exactly what `_DECIMAL_COMMA` does.
    Polars also reads "12.5", " 5", a blank field and a comma without a digit on one side (",5", "-,5",
    "5,", "5,e3"); so: no '.', space, tab, CR, vertical tab or form feed, and no ',' after a separator,
    line start or sign, or before a separator, line end or exponent. "inf" and "nan" are caught by the
    check that every number is finite.

    The commas are looked at body by body (polars' regular expression runs several times faster over
    309 texts of 40 kB than over one of 12 MB, and on its threads): a body's header line ends as the
    header does or in CR + LF, and CR is not in the expression, so the bodies, the header and a body
    ending in ',' (a line end follows it in `data`) hold the pairs of `data` that the expression
    matches, and only those. `texts`: `_texts(header, bodies)`, if made already."""
    if any(character in data for character in (b".", b" ", b"\t", b"\r", b"\x0b", b"\x0c")):
        return False
    if any(body.endswith(b",") for body in bodies):
        return False
    text = _texts(header, bodies) if texts is None else texts
    if text is None:  # not UTF-8
        return False
    return text.str.contains("[;\n+\\-],|,[;\neE]").any() is False


def _texts(header: bytes, bodies: Sequence[bytes]) -> pl.Series | None:
    """The header and a line end, then each body, as text (one value each); None if they are not UTF-8."""
    try:
        return pl.Series([header + b"\n", *bodies], dtype=pl.Binary).cast(pl.String, strict=False)
    except pl.exceptions.ComputeError:  # (polars raises on invalid UTF-8 rather than giving null)
        return None


def _read_required(data: bytes, columns: Mapping[str, str], kind: _Kind) -> pl.DataFrame:
    """The required columns (`columns`: name -> as written in the header) of CSV `data`: all as text,
    or with the three numbers read by polars ("numbers", only after `_plain_numbers`), or also the year
    as an integer, the flags as booleans and the sector columns as categoricals ("typed": polars reads
    exactly the spellings "true"/"false" in any case, which the flags' own check maps to on/ei, and the
    integers the year's check reads)."""
    overrides: dict[str, pl.DataType] = {}
    if kind != "text":
        overrides |= {columns[column]: pl.Float64() for column in _NUMERIC}
    if kind == "typed":
        overrides |= {columns[column]: dtype for column, dtype in _TYPED.items()}
        overrides |= {columns[column]: pl.Categorical(pl.Categories.random()) for column in _TEXT}
    frame = pl.read_csv(
        data,
        separator=";",
        infer_schema=False,
        schema_overrides=overrides or None,
        decimal_comma=kind != "text",
        null_values=NULL_MARKERS,
        truncate_ragged_lines=False,
    )
    return frame.select(pl.col(columns[column]).alias(column) for column in REQUIRED_COLUMNS)


def _read_typed(data: bytes, columns: Mapping[str, str], reading: threading.Event) -> pl.DataFrame | None:
    """`_try_read` of the "typed" kind, its chunks joined (as the rows query needs them), for a worker
    thread: `reading` is set as the read starts."""
    reading.set()
    frame = _try_read(data, columns, "typed")
    return None if frame is None else frame.rechunk()


def _file_index(counts: list[int]) -> pl.Series:
    """Every row's file: each file's index as four bytes, once per row, read back as integers (half the
    time of a cumulative sum over the rows)."""
    rows = b"".join(index.to_bytes(4, "little") * count for index, count in enumerate(counts))
    array = pl.Series([rows], dtype=pl.Binary).bin.reinterpret(
        dtype=pl.Array(pl.UInt32, sum(counts)), endianness="little"
    )
    return array.reshape((-1,))


def _try_read(data: bytes, columns: Mapping[str, str], kind: _Kind) -> pl.DataFrame | None:
    """`_read_required`, or None when polars does not read the data as that kind."""
    try:
        return _read_required(data, columns, kind)
    except (pl.exceptions.PolarsError, ValueError):
        return None


def _data_lines(
    data: bytes, bodies: Sequence[tuple[bytes, int]], texts: pl.Series | None
) -> list[int] | None:
    """The number of data rows (lines after the header, a last line without a line end counted) of each
    body, given the end of its header line; None if a body has a quote or no data row. `data`: the bodies
    joined (`_read_joined`), which hold a quote exactly when a body does (each body's header line is the
    header, perhaps with a CR); `texts`: `_texts` of the bodies, whose line ends polars counts (faster than
    `bytes.count`), or None (not UTF-8)."""
    if b'"' in data:
        return None
    if texts is None:
        ends = [body.count(b"\n", first_line_end + 1) for body, first_line_end in bodies]
    else:  # every line end of a body but its header line's, the first
        ends = [count - 1 for count in texts.slice(1).str.count_matches("\n").to_list()]
    counts = [count + (not body.endswith(b"\n")) for count, (body, _) in zip(ends, bodies, strict=True)]
    return None if 0 in counts else counts


def _read_joined(source: str, payloads: Sequence[Payload], by_url: Mapping[str, str]) -> _Raw | None:
    """All files with one read_csv of their bodies joined, or None when the files are not regular.

    Regular: every URL is in the catalogue, no file is an HTML page, every file has the same header
    line as the first, no quotes (so that each data row is one line, which gives every row its file
    and line number) and at least one data row, and the joined bodies read as UTF-8 with the required
    columns. Anything else returns None, and the caller reads the files one by one, with the same
    checks and error messages file by file. A blank line is a row of nulls at its own line number in
    both reads (and fails the year check there).
    """
    header = b""
    bodies: list[tuple[bytes, int]] = []  # each body and the end of its header line
    parts: list[bytes | memoryview] = []
    codes: list[str] = []
    for index, payload in enumerate(payloads):
        code = by_url.get(payload.request.url)
        if code is None:
            return None
        try:
            check_not_html(source, payload.headers, payload.body)
        except ValidationError:
            return None
        body = payload.body.removeprefix(_BOM)
        first_line_end = body.find(b"\n")
        if first_line_end < 0:
            return None
        line = body[:first_line_end].removesuffix(b"\r")
        if index == 0:
            header = line
        elif line != header:
            return None
        bodies.append((body, first_line_end))
        parts.append(memoryview(body)[first_line_end + 1 :])
        if not body.endswith(b"\n"):
            parts.append(b"\n")
        codes.append(code)
    try:
        written = header.decode("utf-8").split(";")
    except UnicodeDecodeError:
        return None
    columns = {unicodedata.normalize("NFC", column.strip()): column for column in written}
    if any(column not in columns for column in REQUIRED_COLUMNS):
        return None
    data = b"".join([header, b"\n", *parts])
    # polars reads typed on other threads while this one counts the lines, makes every row's file index
    # and checks the numbers; a value polars does not read as typed (a flag spelled On/Ei or 1/0, a
    # number it rejects) is read as the next kind, down to text, where the checks name it.
    with ThreadPoolExecutor(1) as pool:
        reading = threading.Event()
        typed = pool.submit(_read_typed, data, columns, reading)
        # (this thread's Python work would hold the GIL the worker needs to start the read, for up to a
        # switch interval: it waits until the worker is about to call polars, which releases the GIL)
        reading.wait()
        contents = [body for body, _ in bodies]
        texts = _texts(header, contents)
        counts = _data_lines(data, bodies, texts)
        file = None if counts is None else _file_index(counts)
        plain = counts is not None and _plain_numbers(data, header, contents, texts)
        frame = typed.result()
    if counts is None or file is None:
        return None
    if not plain:  # polars would read numbers the checks reject
        frame = None
    kinds: tuple[_Kind, ...] = ("numbers", "text") if plain else ("text",)
    for kind in kinds:
        if frame is None:
            frame = _try_read(data, columns, kind)
    if frame is None or frame.height != sum(counts):
        return None
    return _Raw(
        frame.with_columns(file.alias(_FILE)),
        codes,
        [_file_name(payload) for payload in payloads],
        counts,
        (data, columns),
    )


def _read_csv(source: str, payload: Payload) -> pl.DataFrame:
    """One file's required columns as written (text)."""
    name = _file_name(payload)
    check_not_html(source, payload.headers, payload.body)
    try:
        text = payload.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = payload.body.decode("cp1252")  # fallback for a Latin-1 export (encoding unverified)
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=";",
            infer_schema=False,
            null_values=NULL_MARKERS,
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ValidationError(source, name, "a ';'-separated CSV", f"{type(exc).__name__}: {exc}") from None
    columns = {unicodedata.normalize("NFC", column.strip()): column for column in frame.columns}
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        got = ", ".join(frame.columns)
        if len(frame.columns) == 1 and "," in frame.columns[0]:
            got = f"one column {frame.columns[0]!r} (a ','-separated file?)"
        raise ValidationError(
            source, f"{name}: column {missing[0]!r}", "the ALas columns " + ", ".join(REQUIRED_COLUMNS), got
        )
    if frame.is_empty():
        raise ValidationError(source, name, "at least one data row", "only a header")
    return frame.select(*[pl.col(columns[column]).alias(column) for column in REQUIRED_COLUMNS])


_FLAG_VALUES = {"on": "on", "ei": "ei", "true": "on", "false": "ei", "1": "on", "0": "ei"}
_FLAGS = (("hinku_laskenta", "hinku"), ("päästökauppa", "ets"))
_NUMERIC = tuple(column for column, _, _ in _MEASURES)
# The checked columns in the order a failure is reported, and the output column that is null on a bad row.
_CHECKED = {**{column: column for column in _NUMERIC}, "vuosi": "period", **dict(_FLAGS), "taso_3": "taso_3"}
# A row's key besides its area: one row per year, sector and accounting rule.
_KEY = ["period", "taso_3", "taso_4", "taso_5", "hinku", "ets"]
# The columns a "typed" read takes as other than text (the three numbers aside), and those it reads as
# categoricals, each with categories of its own.
_TYPED: dict[str, pl.DataType] = {"vuosi": pl.Int64(), **{column: pl.Boolean() for column, _ in _FLAGS}}
_TEXT = ("taso_3", "taso_4", "taso_5")


def _sector_code() -> pl.Expr:
    """The taso_3 code of a spelling (code or name, any case, NFC), null if it is neither."""
    return (
        pl.col("taso_3")
        .str.normalize("NFC")
        .str.to_lowercase()
        .replace_strict(_TASO3_LOOKUP, default=None, return_dtype=pl.String)
    )


@cache
def _self_spelled() -> frozenset[str]:
    """The codes that `_sector_code` gives for themselves (all of them): a spelling equal to one is it."""
    read = pl.DataFrame({"taso_3": list(TASO3)}).select(_sector_code()).to_series().to_list()
    return frozenset(code for code, own in zip(TASO3, read, strict=True) if own == code)


def _meanings(current_year: int) -> dict[str, pl.Expr]:
    """Output column -> its value from the spellings of year, sector and flags (null for a bad year,
    sector code or flag)."""
    year = pl.col("vuosi").cast(pl.Int64, strict=False)
    code = _sector_code()
    return {
        "period": pl.when(year.is_between(FIRST_YEAR, current_year)).then(year.cast(pl.String)),
        **{
            f"taso_{level}": code.replace_strict(
                {code: names[3 - level] for code, names in TASO3.items()},
                default=None,
                return_dtype=pl.String,
            )
            for level in (1, 2)
        },
        "taso_3": code,
        "taso_4": pl.col("taso_4").fill_null(""),
        "taso_5": pl.col("taso_5").fill_null(""),
        **{
            dimension: pl.col(column)
            .str.to_lowercase()
            .replace_strict(_FLAG_VALUES, default=None, return_dtype=pl.String)
            for column, dimension in _FLAGS
        },
    }


def _number(column: str, dtype: pl.DataType) -> pl.Expr:
    """A number column's values: as read (numbers), or from text with a decimal comma."""
    if dtype == pl.Float64:
        return pl.col(column)
    return pl.col(column).str.replace(",", ".", literal=True).cast(pl.Float64, strict=False)


def _bad_number(column: str, dtype: pl.DataType) -> pl.Expr:
    """True on the rows whose number is not "a number or NA" (read as numbers: not finite, to be named
    from the text)."""
    if dtype == pl.Float64:
        return ~pl.col(column).is_finite().fill_null(True)
    return ~pl.col(column).str.contains(_DECIMAL_COMMA).fill_null(True)


class _Rows(NamedTuple):
    """Every row's output columns; per checked column (`_CHECKED`) the rows that fail its check (none
    listed for a frame read typed, see `_typed_rows`); whether every value is valid as written; and per
    row a number that is equal exactly when the rows' key values (area and `_KEY`) are."""

    frame: pl.DataFrame
    bad: dict[str, pl.Series]
    valid: bool
    key: pl.Series


def _rows(raw: _Raw, frame: pl.DataFrame, current_year: int) -> _Rows:
    """Area, period, taso_1…taso_5, hinku, ets and the three measures of every row, and their checks.

    Year, sector and flag columns have a few hundred distinct combinations of spellings (the rows of one
    file): each combination is worked out once and spread to its rows. Valid as written: no check fails
    and no taso_4/taso_5 value has white space around it (which the caller would strip).
    """
    spelled = ["vuosi", "taso_3", "taso_4", "taso_5", *(column for column, _ in _FLAGS)]
    combinations = frame.select(spelled).with_row_index("row").group_by(spelled).agg("row")
    spread = combinations.select(
        pl.col("row").explode(),
        pl.int_range(pl.len(), dtype=pl.UInt32)
        .repeat_by(pl.col("row").list.len())
        .explode()
        .alias("combination"),
    )
    combination = pl.zeros(frame.height, pl.UInt32, eager=True).scatter(spread["row"], spread["combination"])
    meanings = combinations.select(**_meanings(current_year))
    computed = frame.select(
        *[_number(column, frame.schema[column]).alias(measure) for column, measure, _ in _MEASURES],
        *[_bad_number(column, frame.schema[column]).alias(column) for column in _NUMERIC],
    )
    rows = pl.DataFrame(
        [
            pl.Series("area", raw.areas).gather(frame[_FILE]),
            *meanings.select("period", *(f"taso_{level}" for level in range(1, 6)), "hinku", "ets")[
                combination
            ].get_columns(),
            *(computed[measure] for _, measure, _ in _MEASURES),
        ]
    )
    bad = {
        column: computed[column] if column in _NUMERIC else rows[output].is_null()
        for column, output in _CHECKED.items()
    }
    padded = combinations.select(
        pl.any_horizontal(
            (pl.col(column) != pl.col(column).str.strip_chars()).any() for column in ("taso_4", "taso_5")
        )
    ).item()
    valid = not padded and not any(check.any() for check in bad.values())
    area = _area_numbers(raw).gather(frame[_FILE])
    meaning = meanings.select(pl.struct(_KEY).rank("dense").cast(pl.UInt64)).to_series().gather(combination)
    return _Rows(rows, bad, valid, area * 2**32 + meaning)


def _typed_rows(raw: _Raw, frame: pl.DataFrame, current_year: int) -> _Rows:
    """What `_rows` gives for a frame read typed, from one query over the rows (its columns in parallel).

    The text columns were read as categoricals of their own: each column's spellings are worked out
    once (as `_meanings` does) into a table indexed by the code, and a row's value is the table's entry
    at its code (null at one past the end). The key is one integer per row when its parts fit, as they
    do for any real file. `bad` is left empty, and the key is meant for valid rows only: a frame that
    is not valid is checked again as text.
    """
    # Each column's spellings by code, and per table one more entry, for a null (the small tables are
    # made in Python).
    spelled = {column: list(_categories(frame, column)) for column in _TEXT}
    codes = _sector_codes(spelled["taso_3"])
    code = pl.Series(codes, dtype=pl.String)
    blank = {
        column: ["" if value is None else value for value in spelled[column]]
        for column in ("taso_4", "taso_5")
    }
    filled = {column: pl.Series([*values, ""], dtype=pl.String) for column, values in blank.items()}
    position = {column: pl.col(column).to_physical().fill_null(len(spelled[column])) for column in _TEXT}
    year = pl.when(pl.col("vuosi").is_between(FIRST_YEAR, current_year)).then(pl.col("vuosi") - FIRST_YEAR)
    years = pl.int_range(FIRST_YEAR, current_year + 1, eager=True).cast(pl.String)
    flags = pl.Series(["ei", "on"])
    output = {
        "area": pl.lit(pl.Series(raw.areas, dtype=pl.String)).gather(_FILE),
        "period": pl.lit(years).gather(year),
        **{
            f"taso_{level}": pl.lit(
                pl.Series([None if c is None else TASO3[c][3 - level] for c in codes], dtype=pl.String)
            ).gather(position["taso_3"])
            for level in (1, 2)
        },
        "taso_3": pl.lit(code).gather(position["taso_3"]),
        **{column: pl.lit(filled[column]).gather(position[column]) for column in filled},
        **{dimension: pl.lit(flags).gather(pl.col(column).cast(pl.UInt32)) for column, dimension in _FLAGS},
        **{measure: pl.col(column) for column, measure, _ in _MEASURES},
    }
    # The key: the row's area number, then its year, sector, flags, taso_4 and taso_5 as the digits of
    # one mixed-radix integer. The area number is the file's index when no area has two files, the
    # sector digit the spelling's code when no two spellings name one sector (so for any real file).
    if len(set(raw.areas)) == len(raw.areas):
        area = pl.col(_FILE)
    else:
        area = pl.lit(_area_numbers(raw)).gather(_FILE)
    if len(set(codes)) == len(codes):
        sector, sectors = position["taso_3"], len(codes)
    else:
        sector = pl.lit(
            pl.Series([None if c is None else list(TASO3).index(c) for c in codes], dtype=pl.UInt32)
        ).gather(position["taso_3"])
        sectors = len(TASO3)
    digits = [
        year,
        sector,
        *(pl.col(column) for column, _ in _FLAGS),
        *(position[column] for column in filled),
    ]
    radix = [len(years), sectors, 2, 2, *(len(filled[column]) for column in filled)]
    if math.prod(radix) > 2**32:  # not for a real file: a dense rank of the digits
        key = area.cast(pl.UInt64) * 2**32 + pl.struct(digits).rank("dense").cast(pl.UInt64)
    else:  # (in 32 bits when every key fits, as for any real set of files: half the bytes to go over)
        dtype = pl.UInt32 if len(raw.areas) * math.prod(radix) <= 2**32 else pl.UInt64
        # (the year digit without the range check, in wrapping arithmetic, is cheaper than `year` cast;
        # it differs only for a year out of range, whose null period makes the rows invalid: no key used)
        digits[0] = pl.col("vuosi").cast(dtype, wrap_numerical=True) - FIRST_YEAR
        key = area.cast(dtype)
        for digit, base in zip(digits, radix, strict=True):
            key = key * base + digit.cast(dtype)
    # (the read's chunks joined first: a frame whose columns are chunked alike is not joined again later)
    rows = frame.rechunk().lazy().select(**output, key=key).collect()
    checked = [_CHECKED[column] for column in _CHECKED if column not in _NUMERIC]
    spellings = pl.Series([*blank["taso_4"], *blank["taso_5"]], dtype=pl.String)
    valid = (
        not (spellings != spellings.str.strip_chars()).any()
        and not any(rows[column].null_count() for column in checked)
        # (a sum is finite only if every number is; one that overflows sends the rows to the text checks)
        and all(math.isfinite(rows[measure].sum()) for _, measure, _ in _MEASURES)
    )
    return _Rows(rows.drop("key"), {}, valid, rows["key"])


def _sector_codes(spellings: Sequence[str | None]) -> list[str | None]:
    """The taso_3 code of each spelling (as `_sector_code` gives it), then a null."""
    if _self_spelled().issuperset(spellings):  # spelled as the codes are, as in any real file
        return [*spellings, None]
    frame = pl.DataFrame({"taso_3": [*spellings, None]}, schema={"taso_3": pl.String})
    return frame.select(_sector_code()).to_series().to_list()


def _area_numbers(raw: _Raw) -> pl.Series:
    """Per file, its area as a number for the row key: the index of the area's first file."""
    first = {area: number for number, area in reversed(list(enumerate(raw.areas)))}
    return pl.Series([first[area] for area in raw.areas], dtype=pl.UInt64)


def _categories(frame: pl.DataFrame, column: str) -> pl.Categories:
    """The categories of a column read as a categorical of its own (codes 0, 1, … in order)."""
    dtype = frame.schema[column]
    assert isinstance(dtype, pl.Categorical)
    return dtype.categories


def _fail(source: str, raw: _Raw, frame: pl.DataFrame, bad: pl.Series, column: str, expected: str) -> None:
    if bad.any():
        row = bad.arg_true()[0]
        name, line = raw.where(row)
        value = frame[column][row]
        got = (
            "a missing value (" + ", ".join(repr(m) for m in NULL_MARKERS) + ")"
            if value is None
            else repr(value)
        )
        raise ValidationError(source, f"{name}: column {column!r}, line {line}", expected, got)


def _normalise(source: str, raw: _Raw, current_year: int) -> pl.DataFrame:
    """Validated rows reshaped to one block per measure; the first bad value is named (file, column, line).

    The values are checked as written first; only when something fails are they stripped of white space
    and checked again, and a value still bad is named in a fixed order (columns as in `_CHECKED`).
    """
    frame = raw.frame
    typed = frame.schema["vuosi"] == pl.Int64
    rows = (_typed_rows if typed else _rows)(raw, frame, current_year)
    if not rows.valid:
        frame = raw.text().with_columns(pl.col(REQUIRED_COLUMNS).str.strip_chars())
        rows = _rows(raw, frame, current_year)
        expected = {
            **dict.fromkeys(_NUMERIC, "a number or NA"),
            "vuosi": f"a year from {FIRST_YEAR} to {current_year}",
            **{column: "On/Ei, true/false or 1/0" for column, _ in _FLAGS},
            "taso_3": "a sector code: " + ", ".join(TASO3),
        }
        for column, bad in rows.bad.items():
            if column in _NUMERIC:
                dotted = frame[column].str.contains(_DOT_DECIMAL).fill_null(False)
                _fail(
                    source,
                    raw,
                    frame,
                    dotted,
                    column,
                    "a decimal comma (e.g. 12,5): this file looks like it uses a decimal point",
                )
            _fail(source, raw, frame, bad, column, expected[column])
    kept = rows.frame
    if rows.key.n_unique() < rows.key.len():  # (counting distinct keys is cheaper than marking repeats)
        # Some releases repeat rows (reported for the Åland municipalities): a row repeated exactly is
        # dropped with a note; a repeated key with other numbers cannot be resolved and is rejected.
        duplicated = rows.key.is_duplicated()
        indices = duplicated.arg_true()
        compared = rows.frame[indices]
        conflicting = ~compared.is_duplicated()
        if conflicting.any():
            name, line = raw.where(indices[conflicting.arg_true()[0]])
            raise ValidationError(
                source,
                f"{name}: line {line}",
                "one row per year, sector (taso_3…taso_5) and accounting rule (hinku_laskenta, päästökauppa)",
                "a row with the same year, sector and rule as another but other numbers",
            )
        repeated = indices.filter(~compared.select(pl.struct(pl.all()).is_first_distinct()).to_series())
        lines: dict[str, list[int]] = {}
        for row in repeated:
            name, line = raw.where(row)
            lines.setdefault(name, []).append(line)
        for name, numbers in lines.items():
            log.warning(
                "%s: %s: %d row(s) repeated exactly (lines %s); each is counted once",
                source,
                name,
                len(numbers),
                ", ".join(str(number) for number in numbers[:5]),
            )
        kept = kept.filter(~pl.int_range(pl.len()).is_in(repeated.implode()))
    dimensions = ["taso_1", "taso_2", "taso_3", "taso_4", "taso_5", "hinku", "ets"]
    return pl.concat(
        [
            kept.select(
                "area",
                "period",
                pl.col(measure).alias("value"),
                pl.lit(None, dtype=pl.String).alias("flag"),
                pl.lit(unit).alias("unit"),
                pl.lit(measure).alias("measure"),
                *dimensions,
            )
            for _, measure, unit in _MEASURES
        ]
    )
