"""The European peer cities (peers.toml) and the resolution of their names to each source's city codes."""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.errors import ValidationError

PEERS_PATH = Path(__file__).with_name("peers.toml")

PeerSource = Literal["oecd", "urban_audit", "covenant", "cdp"]
PeerGroup = Literal["home", "nordic", "leader"]


class PinnedCode(BaseModel):
    """A city's code in one source, pinned instead of resolved by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(min_length=1)


class Peer(BaseModel):
    """One peer city: its tracker area, names, country, group and how each source publishes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    area: str = ""
    name: dict[Literal["fi", "sv", "en"], str]
    country: str = Field(pattern=r"^[A-Z]{2}$")
    group: PeerGroup
    sources: dict[PeerSource, str | PinnedCode] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _defaults(self) -> Peer:
        if not self.area:
            object.__setattr__(self, "area", self.key)
        if set(self.name) != {"fi", "sv", "en"}:
            raise ValueError(f"peer {self.key!r}: name needs fi, sv and en")
        return self


@dataclass(frozen=True)
class Candidate:
    """A city as one source lists it: its code, its label and (when the source says) its country."""

    code: str
    label: str
    country: str | None = None


def _fold(text: str) -> str:
    """Case- and accent-insensitive form of a name ("Zürich" and "ZURICH" fold alike)."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=8192)  # the same codelists' labels in every OECD flow and every run
def _label_parts(label: str) -> frozenset[str]:
    """The names a label holds: "Espoo/Esbo" holds "espoo" and "esbo" (and the whole label)."""
    return frozenset({_fold(label), *(_fold(part) for part in label.split("/") if part.strip())})


# the Nordic countries (and their autonomous territories: Åland, the Faroe Islands, Greenland)
NORDIC_COUNTRIES: Final = frozenset({"FI", "SE", "NO", "DK", "IS", "AX", "FO", "GL"})


@cache
def load_peers(path: Path = PEERS_PATH) -> tuple[Peer, ...]:
    """Every peer of the catalogue, in its order; exactly one is the home city."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    peers = tuple(Peer.model_validate({"key": key, **entry}) for key, entry in raw["peers"].items())
    homes = [peer.key for peer in peers if peer.group == "home"]
    if len(homes) != 1:
        raise ValueError(f"{path}: exactly one peer must have group = 'home', found {homes}")
    not_nordic = [p.key for p in peers if p.group == "nordic" and p.country not in NORDIC_COUNTRIES]
    if not_nordic:
        raise ValueError(
            f"{path}: group 'nordic' is for the Nordic countries {sorted(NORDIC_COUNTRIES)}: {not_nordic}"
        )
    areas = [peer.area for peer in peers]
    if len(set(areas)) != len(areas):
        raise ValueError(f"{path}: two peers share an area code: {sorted(areas)}")
    return peers


def home_peer(peers: Iterable[Peer] | None = None) -> Peer:
    """The home city (Espoo)."""
    return next(peer for peer in (peers if peers is not None else load_peers()) if peer.group == "home")


def peer_by_area(peers: Iterable[Peer] | None = None) -> dict[str, Peer]:
    """Peers keyed by their tracker area code."""
    return {peer.area: peer for peer in (peers if peers is not None else load_peers())}


def resolve_codes(
    dataset: str,
    source: PeerSource,
    candidates: Iterable[Candidate],
    *,
    peers: Iterable[Peer] | None = None,
    code_suffix: str | None = None,
) -> dict[str, str]:
    """Map each peer's area to its code in `source`, resolving names against the source's own labels.

    A candidate matches a peer when it is in the peer's country (by its country, or by the code's first two
    letters when the source gives none), its code ends with `code_suffix` (e.g. "C" for a city, not its
    functional urban area), and one part of its label equals the peer's name for the source, ignoring case
    and accents. A pinned code must be among the candidates. No match leaves the peer out (not covered),
    except the home city, whose absence is a ValidationError; two matches are a ValidationError naming both.
    """
    listed = list(candidates)
    by_code = {candidate.code: candidate for candidate in listed}
    by_country: dict[str, list[Candidate]] = {}
    for candidate in listed:
        by_country.setdefault((candidate.country or candidate.code[:2]).upper(), []).append(candidate)
    resolved: dict[str, str] = {}
    for peer in peers if peers is not None else load_peers():
        ref = peer.sources.get(source)
        if ref is None:
            continue
        if isinstance(ref, PinnedCode):
            if ref.code in by_code:
                resolved[peer.area] = ref.code
            elif peer.group == "home":
                raise ValidationError(
                    dataset, f"{source} city code", f"the pinned code {ref.code} of {peer.key}", "absent"
                )
            continue
        wanted = _fold(ref)
        matches = sorted(
            {
                candidate.code
                for candidate in by_country.get(peer.country, [])
                if (code_suffix is None or candidate.code.endswith(code_suffix))
                and wanted in _label_parts(candidate.label)
            }
        )
        if len(matches) > 1:
            found = ", ".join(f"{code} ({by_code[code].label})" for code in matches)
            raise ValidationError(
                dataset,
                f"{source} city name {ref!r}",
                f"one city of {peer.country} named so (pin one in ingest/peers.toml: {{ code = … }})",
                found,
            )
        if matches:
            resolved[peer.area] = matches[0]
        elif peer.group == "home":
            raise ValidationError(
                dataset,
                f"{source} city name {ref!r}",
                f"the home city {peer.key} among the source's cities of {peer.country}",
                "no city of that name",
            )
    return resolved


def peer_names(lang: str) -> Mapping[str, str]:
    """Area code → the peer city's name in `lang`."""
    return {peer.area: peer.name[lang] for peer in load_peers()}  # type: ignore[index]
