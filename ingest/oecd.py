"""OECD "Cities and functional urban areas" connector: SDMX 2.1 structure (XML) + data (CSV with labels).

What the API looks like (gathered from public code and notes, nothing fetched live; SOURCES.md, "European
cities"; verify on the first live run with `kestava probe`):

- Base `https://sdmx.oecd.org/public/rest` (the catalogue `url`), keyless. Flow references are
  `{agency},{flow},{version}`; the agency of the city flows is `OECD.CFE.EDS`, flows are named
  `DSD_…@DF_…` (e.g. `DSD_FUA_ENV@DF_GHG` version 1.5, `DSD_FUA_ENV@DF_GREEN_AREA` 1.2,
  `DSD_FUA_ENV@DF_POLLUTION` 1.5, `DSD_FUA_TRAN@DF_PT_ACCESS` 1.1 in public scripts).
- Structure: `GET {url}/dataflow/{agency}/{flow}/{version}?references=all` answers an SDMX-ML 2.1
  Structure message (namespaces `…/schemas/v2_1/message|structure|common`): the Dataflow (its `version`
  attribute), the DataStructure (DimensionList: `Dimension id=… position=…`, each with
  `LocalRepresentation/Enumeration/Ref id=CL_…`, else its Concept's CoreRepresentation) and the
  Codelists (`Code id=…` with `common:Name xml:lang="en"`). Public scripts read it with the standard
  library's ElementTree, as this module does.
  `latest` in place of the version asks for the newest version (SDMX REST 2.1).
- Data: `GET {url}/data/{agency},{flow},{version}/{key}?startPeriod=…&dimensionAtObservation=AllDimensions
  &format=csvfilewithlabels`. The key is the dimensions' codes in the DSD's order, joined by `.`; `+`
  joins several codes of a dimension, empty means all (e.g. `AUS01F+AUS01C.A.PM25_POP_EXP.MCG_M3....` for
  the 8-dimension pollution flow, `AUS01F+AUS02F.A......` for PT_ACCESS). An SDMX data query that matches
  nothing answers HTTP 404 ("NoResultsFound").
- CSV with labels: `STRUCTURE,STRUCTURE_ID,STRUCTURE_NAME,ACTION`, then each component's code column
  followed by its label column (`REF_AREA,Reference area,FREQ,Frequency of observation,MEASURE,Measure,
  UNIT_MEASURE,Unit of measure,…,TIME_PERIOD,Time period,OBS_VALUE,Observation value,OBS_STATUS,
  Observation status,UNIT_MULT,Unit multiplier,DECIMALS,Decimals`); 30 columns for the GHG flow.
  A public ingestion note saw 31 fields in rows whose city name holds an UNQUOTED comma ("Puerto de Santa
  María, El") and "Not applicable" landing in TIME_PERIOD (the shifted columns).
- Codes: GHG measures `GHG_TOTAL`, `GHG_POWER`, `GHG_BUILDINGS`, … in `T_CO2E` and `T_CO2E_PS`; green
  area `GREEN_AREA` in `M2_PS` / `PT_LAR`; pollution `PM25_POP_EXP` in `MCG_M3`; PT access
  `POP_WITH_ACCESS` in `PT_POP` by `TRAVEL_TIME` (`MN_LE5`…) and `SERVICE` (`PT_STOP`). `_Z` = not
  applicable. City codes end in `C` (FUAs in `F`), EU-OECD cities like `FI001C`.
- Rate limit: HTTP 429 after about 10–15 quick requests: ingest.http paces sdmx.oecd.org (6 s) and
  honours Retry-After.

Catalogue options (`[datasets.X] options`):
- `flow`, `version` (pinned), `agency` (default OECD.CFE.EDS), `since` (startPeriod);
- `key`: {dimension: code or [codes]} for the other dimensions; `REF_AREA = "peers"` (the only value it
  takes) stands for the peer cities' codes; dimensions left out are empty (all);
- `key_names`: {dimension: {alias: name}}: codes resolved from the dimension's codelist by their English
  name, added to that dimension's key (beside its explicit codes), for codes never seen in public material
  (they are not guessed). Rule: a code matches when `name` occurs in the code's English name as whole
  words, ignoring case ("nitrogen dioxide" and "NO2" both match "Nitrogen dioxide (NO2)", "NO" does not
  match "NO2"). Two matching codes are a ValidationError naming both. No matching code is a logged
  warning and the request goes without the alias: a scheduled job keeps updating the codes it can ask
  for (one missing name must not stop the others), and the alias's indicator simply gets no new values;
  but when the dimension would be left with no code at all (which would ask for all of its codes) it is a
  ValidationError naming the dimension and listing the codelist's names. Aliases are lower-case words;
  REF_AREA takes no names (the peers are resolved by ingest.peers);
- `peers`: the peer keys to ask for (default: every peer with an `oecd` name); the probe asks for Espoo;
- `units`: {OECD unit code: kestava unit} overrides of UNIT_CODES.

Fetch: (1) the structure of the pinned version; when it answers HTTP 404 the version is looked up as
`latest` instead (a warning is logged, and the recorded structure request names `latest`, the data request
the version the structure gave); (2) one data request for every resolved peer city (ingest.peers, by
name within the country, codes ending in C) in the key's REF_AREA position.

Parse: rows of other cities are dropped (only peers are kept); a code the key did not ask for in a keyed
dimension is rejected (a filter the API ignored, e.g. a changed unit code); a row with more fields than
the header is repaired when the surplus fields each start with a space (an unquoted ", " inside a label
column), else rejected naming the row; rows whose TIME_PERIOD is "Not applicable" (or `_Z`) are
dropped (logged); any other non-year period is rejected. OBS_VALUE × 10^UNIT_MULT is the value (empty = null);
OBS_STATUS is the flag (`A`, normal value, is no flag: null).

Output: area (the peer's tracker area), period (year), value, flag, unit (kestava unit), city_code
(REF_AREA), measure (MEASURE), unit_code (UNIT_MEASURE), and every other dimension of the DSD as a
lower-case column of codes (freq, territorial_level, travel_time, …); for each dimension of `key_names` a
column `<dimension lower-case>_alias` (measure_alias): the alias of a code resolved by name (an alias wins
over the same code given explicitly), else the code itself (never null).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar
from xml.parsers import expat

import polars as pl
import pydantic

from common.payload import Fetcher, Payload
from common.units import UnitError, check_unit
from ingest.catalogue import DatasetSpec
from ingest.connector import Connector
from ingest.errors import FetchError, ValidationError
from ingest.http import HttpError, check_not_html
from ingest.peers import Candidate, load_peers, resolve_codes

__all__ = [
    "DATA_PARAMS",
    "STRUCTURE_ACCEPT",
    "UNIT_CODES",
    "OecdConnector",
    "OecdOptions",
    "Structure",
    "data_url",
    "parse_structure",
    "read_csv_rows",
    "read_options",
    "reading_of",
    "structure_url",
]

logger = logging.getLogger(__name__)

NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STRUCTURE_ACCEPT = "application/vnd.sdmx.structure+xml;version=2.1"
DATA_PARAMS = (("dimensionAtObservation", "AllDimensions"), ("format", "csvfilewithlabels"))
AREA = "REF_AREA"
PEERS = "peers"
# OECD unit codes → common.units
UNIT_CODES: Mapping[str, str] = {
    "T_CO2E": "t CO2e",
    "T_CO2E_PS": "t CO2e per resident",
    "M2_PS": "m² per resident",
    "PT_LAR": "%",  # percentage of land area
    "PT_POP": "%",  # percentage of population
    "MCG_M3": "µg/m³",
    "PS": "persons",
}
# columns of the CSV that are neither dimensions nor read attributes
_ENVELOPE = ("STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION")
_FREE_TEXT = frozenset({"STRUCTURE_NAME"})  # a code-like header whose values are names (may hold commas)
_ID = re.compile(r"^[A-Z][A-Z0-9_]*$")  # a component id header (labels are words: "Measure")
_CODE_VALUE = re.compile(r"^[A-Za-z0-9_@$.:()+-]*$")
_YEAR = re.compile(r"^\d{4}$")
NOT_APPLICABLE = frozenset({"not applicable", "_z"})
NORMAL_STATUS = "A"
_ALIAS = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED = frozenset({"area", "period", "value", "flag", "unit", "city_code", "measure", "unit_code"})
# An SDMX-ML message's Header (its first element): a new message ID and Prepared (the time the answer was
# made) on every answer, whether or not anything else changed
_HEADER_OPEN = re.compile(rb"<(?P<prefix>[A-Za-z_][\w.-]*:)?Header[\s>]")
_HEADER_WITHIN = 4096  # bytes from the start of the message in which its Header begins


class OecdOptions(pydantic.BaseModel):
    """The oecd_sdmx protocol's catalogue options (see the module docstring)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    agency: str = "OECD.CFE.EDS"
    flow: str = pydantic.Field(pattern=r"^[A-Za-z0-9_]+@[A-Za-z0-9_]+$")
    version: str = pydantic.Field(pattern=r"^\d+(\.\d+)*$")
    key: dict[str, str | list[str]] = pydantic.Field(default_factory=dict)
    since: str | None = pydantic.Field(default=None, pattern=r"^\d{4}$")
    key_names: dict[str, dict[str, str]] = pydantic.Field(default_factory=dict)
    peers: list[str] | None = None
    units: dict[str, str] = pydantic.Field(default_factory=dict)

    def codes(self, dimension: str) -> list[str]:
        """The key's codes of one dimension ([] = all)."""
        value = self.key.get(dimension, [])
        return [value] if isinstance(value, str) else list(value)


def read_options(spec: DatasetSpec) -> OecdOptions:
    """Validate the dataset's options; a typo or a wrong type is a ValidationError naming the option."""
    try:
        options = OecdOptions.model_validate(spec.options)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValidationError(spec.id, "catalogue options", "valid oecd_sdmx options", problems) from None
    for dimension, names in options.key_names.items():
        where = f"catalogue options.key_names.{dimension}"
        if dimension == AREA or not names:
            raise ValidationError(
                spec.id, where, "{alias: name} of a dimension other than REF_AREA", str(names)
            )
        for alias, name in names.items():
            if not _ALIAS.match(alias) or alias in options.codes(dimension) or not _words(name):
                raise ValidationError(
                    spec.id, f"{where}.{alias}", "a lower-case alias (no code of the key) and a name", name
                )
    if options.codes(AREA) not in ([], [PEERS]):
        raise ValidationError(
            spec.id, f"catalogue options.key.{AREA}", f'"{PEERS}" (the peer cities)', str(options.key[AREA])
        )
    for code, unit in options.units.items():
        try:
            check_unit(unit)
        except UnitError as exc:
            raise ValidationError(
                spec.id, f"catalogue options.units.{code}", "a kestava unit", str(exc)
            ) from None
    if options.peers is not None:
        known = {peer.key for peer in load_peers()}
        unknown = [key for key in options.peers if key not in known]
        if unknown:
            raise ValidationError(
                spec.id, "catalogue options.peers", f"peer keys of {sorted(known)}", str(unknown)
            )
    return options


def structure_url(spec: DatasetSpec, options: OecdOptions, version: str) -> str:
    """`{url}/dataflow/{agency}/{flow}/{version}` (version "latest" for the newest)."""
    return f"{spec.url.rstrip('/')}/dataflow/{options.agency}/{options.flow}/{version}"


def data_url(spec: DatasetSpec, options: OecdOptions, version: str, key: str) -> str:
    """`{url}/data/{agency},{flow},{version}/{key}`."""
    return f"{spec.url.rstrip('/')}/data/{options.agency},{options.flow},{version}/{key}"


# ------------------------------------------------------------------------------------------- structure


@dataclass(frozen=True)
class Structure:
    """What the data request needs from the structure message: the flow's version, the DSD's dimensions
    in key order, the cities of the REF_AREA codelist and the codes resolved by name (dimension → {code:
    alias}, see `key_names`)."""

    version: str
    dimensions: tuple[str, ...]
    areas: tuple[Candidate, ...]
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def codes(self, options: OecdOptions, dimension: str) -> list[str]:
        """The key's codes of one dimension: the explicit ones, then those resolved by name ([] = all)."""
        explicit = options.codes(dimension)
        return explicit + [code for code in self.aliases.get(dimension, {}) if code not in explicit]


def _name(element: ET.Element) -> str:
    """The English name of a structure element (else its first name, else "")."""
    names = element.findall("com:Name", NS)
    for name in names:
        if name.get(XML_LANG) == "en":
            return (name.text or "").strip()
    return (names[0].text or "").strip() if names else ""


def _enumeration(element: ET.Element, representation: str) -> ET.Element | None:
    """The codelist reference of a LocalRepresentation / CoreRepresentation (Ref unqualified, as in 2.1)."""
    return element.find(f"str:{representation}/str:Enumeration/{{*}}Ref", NS)


def _codelist_ref(root: ET.Element, dimension: ET.Element) -> ET.Element | None:
    """The dimension's own codelist reference, else its concept's (CoreRepresentation)."""
    ref = _enumeration(dimension, "LocalRepresentation")
    if ref is not None:
        return ref
    concept = dimension.find("str:ConceptIdentity/{*}Ref", NS)
    concept_id = concept.get("id") if concept is not None else dimension.get("id")
    for candidate in root.iter(f"{{{NS['str']}}}Concept"):
        if candidate.get("id") == concept_id:
            return _enumeration(candidate, "CoreRepresentation")
    return None


class _DtdFoundError(Exception):
    """Raised from expat's handler at a document type declaration, to stop reading there."""


def _refuse_dtd(source: str, body: bytes) -> None:
    """ValidationError when the document declares a DTD (where entities are declared), in whatever encoding
    it is written: expat decodes it as ElementTree's parser then would (a byte search for "<!DOCTYPE"
    misses a UTF-16 document). Stops at the declaration, before any entity is read; a document that is not
    XML is left for the parser to report."""

    def refuse(*_: object) -> None:
        raise _DtdFoundError

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(body, True)
    except _DtdFoundError:
        raise ValidationError(
            source, "structure", "an SDMX-ML message without a DTD", "a DOCTYPE (a document type declaration)"
        ) from None
    except expat.ExpatError:
        return


def parse_structure(source: str, body: bytes, options: OecdOptions) -> Structure:
    """Read the dataflow's version, its DSD's dimension order and the REF_AREA codelist's codes and names."""
    _refuse_dtd(source, body)
    try:
        # no DTD, so no entity expansion: the standard library parser is safe on what is left
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise ValidationError(
            source, "structure", "an SDMX-ML 2.1 Structure message (XML)", str(exc)
        ) from None
    flows = [
        flow
        for flow in root.iter(f"{{{NS['str']}}}Dataflow")
        if flow.get("id") == options.flow and flow.get("agencyID", options.agency) == options.agency
    ]
    if not flows:
        found = [flow.get("id") for flow in root.iter(f"{{{NS['str']}}}Dataflow")]
        raise ValidationError(
            source, "structure Dataflow", f"the dataflow {options.flow}", f"dataflows {found}"
        )
    version = flows[0].get("version") or options.version
    dimension_list = root.find(".//str:DataStructure/str:DataStructureComponents/str:DimensionList", NS)
    if dimension_list is None:
        raise ValidationError(source, "structure DimensionList", "a DataStructure with dimensions", "none")
    dimensions = sorted(
        dimension_list.findall("str:Dimension", NS), key=lambda d: int(d.get("position") or 0)
    )
    ids = tuple(d.get("id") or "" for d in dimensions)
    if AREA not in ids:
        raise ValidationError(
            source, "structure DimensionList", f"a dimension {AREA}", f"dimensions {list(ids)}"
        )
    unknown = [d for d in options.key if d not in ids]
    if unknown:
        raise ValidationError(
            source, "catalogue options.key", f"dimensions of the flow ({', '.join(ids)})", ", ".join(unknown)
        )
    unknown = [d for d in options.key_names if d not in ids]
    if unknown:
        raise ValidationError(
            source,
            "catalogue options.key_names",
            f"dimensions of the flow ({', '.join(ids)})",
            ", ".join(unknown),
        )
    areas = _codelist(source, root, dimensions[ids.index(AREA)])
    aliases = {
        dimension: _resolve_names(
            source, options, dimension, _codelist(source, root, dimensions[ids.index(dimension)])
        )
        for dimension in options.key_names
    }
    return Structure(version, ids, areas, aliases)


def _codelist(source: str, root: ET.Element, dimension: ET.Element) -> tuple[Candidate, ...]:
    """The codes and English names of a dimension's codelist (the reference's agency and version)."""
    dimension_id = dimension.get("id")
    ref = _codelist_ref(root, dimension)
    if ref is None or not ref.get("id"):
        raise ValidationError(
            source, f"structure dimension {dimension_id}", "an enumerated codelist", "no Enumeration Ref"
        )
    codelist_id = ref.get("id")
    codelists = [
        cl
        for cl in root.iter(f"{{{NS['str']}}}Codelist")
        if cl.get("id") == codelist_id
        and (ref.get("agencyID") is None or cl.get("agencyID") == ref.get("agencyID"))
        and (ref.get("version") is None or cl.get("version") == ref.get("version"))
    ]
    if not codelists:
        raise ValidationError(
            source,
            "structure Codelists",
            f"the codelist {codelist_id} of {dimension_id}",
            "absent from the message",
        )
    return tuple(
        Candidate(code.get("id") or "", _name(code)) for code in codelists[0].findall("str:Code", NS)
    )


def _words(text: str) -> list[str]:
    """The lower-case words of a name: "Nitrogen dioxide (NO2)" → nitrogen, dioxide, no2."""
    return re.findall(r"[^\W_]+", text.casefold())


def _contains(name: str, words: list[str]) -> bool:
    """Whether the words occur in the name as consecutive whole words."""
    found = _words(name)
    return any(found[i : i + len(words)] == words for i in range(len(found) - len(words) + 1))


def _resolve_names(
    source: str, options: OecdOptions, dimension: str, codes: Sequence[Candidate]
) -> dict[str, str]:
    """Code → alias for the dimension's `key_names` (the rule is in the module docstring)."""
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for alias, name in options.key_names[dimension].items():
        matches = [code for code in codes if _contains(code.label, _words(name))]
        if len(matches) > 1:
            raise ValidationError(
                source,
                f"{dimension} codelist name {name!r} ({alias})",
                "exactly one code",
                "; ".join(f"{code.code} ({code.label})" for code in matches),
            )
        if matches and matches[0].code in resolved:
            raise ValidationError(
                source,
                f"{dimension} codelist name {name!r} ({alias})",
                "a code no other alias names",
                f"{matches[0].code}, named by {resolved[matches[0].code]} too",
            )
        if matches:
            resolved[matches[0].code] = alias
        else:
            missing.append(f"{name!r} ({alias})")
    if missing:
        listed = "; ".join(f"{code.code} ({code.label})" for code in codes)
        if not options.codes(dimension) and not resolved:  # an empty key part would ask for every code
            raise ValidationError(
                source, f"{dimension} codelist names {', '.join(missing)}", "a code with each name", listed
            )
        logger.warning(
            "%s: no code of the %s codelist is named %s; asking without it. The codelist: %s",
            source,
            dimension,
            ", ".join(missing),
            listed,
        )
    return resolved


def resolve(source: str, options: OecdOptions, structure: Structure) -> dict[str, str]:
    """Peer area → its OECD city code (names resolved within the country, codes ending in C)."""
    peers = [peer for peer in load_peers() if options.peers is None or peer.key in options.peers]
    return resolve_codes(source, "oecd", structure.areas, peers=peers, code_suffix="C")


def data_key(options: OecdOptions, structure: Structure, codes: Iterable[str]) -> str:
    """The key in the DSD's dimension order: the peers' codes at REF_AREA, the options' codes elsewhere."""
    parts = []
    for dimension in structure.dimensions:
        values = list(codes) if dimension == AREA else structure.codes(options, dimension)
        parts.append("+".join(values))
    return ".".join(parts)


# ------------------------------------------------------------------------------------------- CSV


def reading_of(body: bytes) -> bytes:
    """An answer's bytes without what changes on every answer though nothing else did: an SDMX-ML message
    without its Header (message ID, Prepared, Sender); any other body (the CSV) whole."""
    start = body[:_HEADER_WITHIN]
    opened = _HEADER_OPEN.search(start)
    if opened is None or not start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return body
    closing = b"</" + (opened["prefix"] or b"") + b"Header>"
    end = body.find(closing, opened.end())
    return body if end < 0 else body[: opened.start()] + body[end + len(closing) :]


def _is_label(header: str) -> bool:
    return header in _FREE_TEXT or not _ID.match(header)


def read_csv_rows(source: str, body: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV-with-labels answer, each row as long as the header.

    A row with more fields than the header is taken to hold unquoted commas inside label columns: the
    fields after a label field that start with a space (", " split them off) are joined back into it.
    A row that cannot be repaired so, or is short, is a ValidationError naming its line.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(source, "body", "UTF-8 CSV", str(exc)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(source, "body", "a CSV header", "an empty body") from None
    labels = [_is_label(name) for name in header]
    rows: list[list[str]] = []
    for fields in reader:
        if not fields:
            continue
        line = reader.line_num
        if len(fields) < len(header):
            raise ValidationError(
                source, f"CSV line {line}", f"{len(header)} fields as in the header", f"{len(fields)} fields"
            )
        if len(fields) > len(header):
            fields = _repair(source, line, header, labels, fields)
        rows.append(fields)
    return header, rows


def _repair(source: str, line: int, header: list[str], labels: list[bool], fields: list[str]) -> list[str]:
    """Join the pieces of label fields split at unquoted ", " back together (see read_csv_rows)."""
    surplus = len(fields) - len(header)
    out: list[str] = []
    position = 0
    for is_label in labels:
        value = fields[position]
        position += 1
        while is_label and surplus and position < len(fields) and fields[position].startswith(" "):
            value += "," + fields[position]
            position += 1
            surplus -= 1
        out.append(value)
    misplaced = [
        f"{name}={value!r}"
        for name, value, is_label in zip(header, out, labels, strict=True)
        if not is_label and not _CODE_VALUE.match(value)
    ]
    if surplus or misplaced:
        raise ValidationError(
            source,
            f"CSV line {line}",
            f"{len(header)} fields (an unquoted comma only inside a label, before a space)",
            f"{len(fields)} fields"
            + (f"; codes out of place: {', '.join(misplaced[:3])}" if misplaced else ""),
        )
    return out


# ------------------------------------------------------------------------------------------- connector


class OecdConnector(Connector):
    """OECD city statistics: the flow's structure (codelist of cities), then one CSV-with-labels GET."""

    protocol: ClassVar[str] = "oecd_sdmx"
    reader_version: ClassVar[str] = "oecd-sdmx-1"

    @staticmethod
    def is_data_request(method: str, url: str) -> bool:
        """The SDMX data query holds the values; the dataflow's structure only describes them."""
        return "/data/" in url

    def reading_digest(self, body: bytes) -> str:
        """The sha256 of the body without its SDMX-ML message header (reading_of): a new message ID and
        Prepared time alone is the stored reading again."""
        return hashlib.sha256(reading_of(body)).hexdigest()

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """The structure (pinned version, else latest on 404) and the data for the resolved peer cities."""
        options = read_options(spec)
        params = (("references", "all"),)
        url = structure_url(spec, options, options.version)
        try:
            structure_payload = fetcher.get(spec.id, url, params=params, accept=STRUCTURE_ACCEPT)
        except HttpError as exc:
            if exc.status != 404:
                raise
            logger.warning(
                "%s: the pinned version %s of %s answered HTTP 404; asking for the latest version",
                spec.id,
                options.version,
                options.flow,
            )
            url = structure_url(spec, options, "latest")
            structure_payload = fetcher.get(spec.id, url, params=params, accept=STRUCTURE_ACCEPT)
        check_not_html(spec.id, structure_payload.headers, structure_payload.body)
        structure = parse_structure(spec.id, structure_payload.body, options)
        if structure.version != options.version:
            logger.warning(
                "%s: %s is now at version %s (the catalogue pins %s): update the catalogue",
                spec.id,
                options.flow,
                structure.version,
                options.version,
            )
        codes = resolve(spec.id, options, structure)
        if not codes:
            raise ValidationError(
                spec.id, f"{AREA} codelist", "at least one peer city", "none of them listed"
            )
        key = data_key(options, structure, codes.values())
        data_params: list[tuple[str, str]] = []
        if options.since is not None:
            data_params.append(("startPeriod", options.since))
        data_params += DATA_PARAMS
        try:
            data = fetcher.get(spec.id, data_url(spec, options, structure.version, key), params=data_params)
        except HttpError as exc:
            if exc.status != 404:
                raise
            raise FetchError(
                spec.id,
                f"GET {data_url(spec, options, structure.version, key)}",
                "observations for the key (SDMX answers HTTP 404 when nothing matches it)",
                exc.got,
            ) from exc
        return [structure_payload, data]

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """The structure payload resolves the peers' codes; the data payload becomes observations."""
        source = spec.id
        options = read_options(spec)
        if len(payloads) != 2:
            raise ValidationError(source, "payloads", "a structure and a data response", f"{len(payloads)}")
        structure = parse_structure(source, payloads[0].body, options)
        area_of = {code: area for area, code in resolve(source, options, structure).items()}
        data = payloads[1]
        check_not_html(source, data.headers, data.body)
        header, rows = read_csv_rows(source, data.body)
        return _observations(source, options, structure, area_of, header, rows)


def _column(source: str, header: list[str], name: str) -> int | None:
    """Where a column is (None when absent); a code column must be followed by its label column."""
    if name not in header:
        return None
    index = header.index(name)
    if name not in ("OBS_STATUS", "UNIT_MULT") and (
        index + 1 >= len(header) or not _is_label(header[index + 1])
    ):
        raise ValidationError(
            source, f"column {name}", "followed by its label column (format=csvfilewithlabels)", "no label"
        )
    return index


def _required(source: str, header: list[str], name: str) -> int:
    index = _column(source, header, name)
    if index is None:
        raise ValidationError(source, f"column {name}", f"a column {name}", f"columns {', '.join(header)}")
    return index


def _observations(
    source: str,
    options: OecdOptions,
    structure: Structure,
    area_of: Mapping[str, str],
    header: list[str],
    rows: list[list[str]],
) -> pl.DataFrame:
    dimensions = list(structure.dimensions)
    index = {name: _required(source, header, name) for name in (*dimensions, "TIME_PERIOD", "OBS_VALUE")}
    status = _column(source, header, "OBS_STATUS")
    # required: without it a value published in thousands (UNIT_MULT 3) would pass as units, off by 10^3
    mult = _required(source, header, "UNIT_MULT")
    for required in ("MEASURE", "UNIT_MEASURE"):
        if required not in dimensions:
            raise ValidationError(
                source, "structure DimensionList", f"a dimension {required}", str(dimensions)
            )
    others = [d for d in dimensions if d not in (AREA, "MEASURE", "UNIT_MEASURE")]
    clash = [d for d in others if d.lower() in RESERVED]
    if clash:
        raise ValidationError(
            source, "structure DimensionList", "dimensions that are not output names", str(clash)
        )
    units = {**UNIT_CODES, **options.units}
    wanted = {
        d: set(structure.codes(options, d)) for d in dimensions if d != AREA and structure.codes(options, d)
    }
    aliased = [d for d in dimensions if d in options.key_names]
    clash = [
        f"{d.lower()}_alias"
        for d in aliased
        if f"{d.lower()}_alias" in {*RESERVED, *(o.lower() for o in others)}
    ]
    if clash:
        raise ValidationError(
            source, "structure DimensionList", "dimensions that are not output names", str(clash)
        )

    records: dict[str, list[object]] = {
        name: [] for name in ("area", "period", "value", "flag", "unit", "city_code", "measure", "unit_code")
    }
    for name in others:
        records[name.lower()] = []
    for name in aliased:
        records[f"{name.lower()}_alias"] = []
    not_applicable = 0
    for row in rows:
        code = row[index[AREA]]
        if code not in area_of:
            continue
        for dimension, codes in wanted.items():
            if row[index[dimension]] not in codes:
                raise ValidationError(
                    source,
                    f"column {dimension}",
                    f"only the codes the key asked for ({', '.join(sorted(codes))})",
                    f"{row[index[dimension]]!r} ({code})",
                )
        period = row[index["TIME_PERIOD"]].strip()
        if period.lower() in NOT_APPLICABLE:
            not_applicable += 1
            continue
        if not _YEAR.match(period):
            raise ValidationError(source, "column TIME_PERIOD", "a year (YYYY)", f"{period!r} ({code})")
        unit_code = row[index["UNIT_MEASURE"]]
        if unit_code not in units:
            raise ValidationError(
                source,
                "column UNIT_MEASURE",
                f"unit codes with a kestava unit (known: {sorted(units)}; add options.units)",
                unit_code,
            )
        records["area"].append(area_of[code])
        records["period"].append(period)
        records["value"].append(_value(source, row, index["OBS_VALUE"], mult, code, period))
        flag = row[status].strip() if status is not None else ""
        records["flag"].append(None if flag in ("", NORMAL_STATUS) else flag)
        records["unit"].append(units[unit_code])
        records["city_code"].append(code)
        records["measure"].append(row[index["MEASURE"]])
        records["unit_code"].append(unit_code)
        for name in others:
            records[name.lower()].append(row[index[name]])
        for name in aliased:
            value = row[index[name]]
            records[f"{name.lower()}_alias"].append(structure.aliases.get(name, {}).get(value, value))
    if not_applicable:
        logger.warning("%s: %d rows with TIME_PERIOD 'Not applicable' dropped", source, not_applicable)
    schema = {name: (pl.Float64 if name == "value" else pl.Utf8) for name in records}
    frame = pl.DataFrame(records, schema=schema)
    if frame.filter(pl.col("value").is_not_null()).height == 0:
        raise ValidationError(source, "OBS_VALUE", "at least one observation of a peer city", "none")
    keys = [c for c in frame.columns if c not in ("value", "flag")]
    if frame.select(keys).is_duplicated().any():
        raise ValidationError(source, "observations", "each (city, period, series) once", "duplicates")
    return frame.sort([c for c in frame.columns if c not in ("period", "value", "flag", "unit")] + ["period"])


def _value(source: str, row: list[str], value_at: int, mult_at: int, code: str, period: str) -> float | None:
    """OBS_VALUE × 10^UNIT_MULT; an empty OBS_VALUE (or NaN) is null."""
    text = row[value_at].strip()
    if text == "" or text.lower() == "nan":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(
            source, "column OBS_VALUE", "a number or empty", f"{text!r} ({code} {period})"
        ) from None
    if not math.isfinite(value):
        raise ValidationError(source, "column OBS_VALUE", "a finite number", f"{text!r} ({code} {period})")
    exponent = row[mult_at].strip()  # empty: no multiplier (10^0)
    if exponent:
        if not re.fullmatch(r"-?\d{1,2}", exponent):
            raise ValidationError(
                source, "column UNIT_MULT", "a power of ten (an integer)", f"{exponent!r} ({code} {period})"
            )
        power = int(exponent)
        value = value * 10**power if power >= 0 else value / 10 ** (-power)
    return value
