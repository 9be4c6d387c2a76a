"""The bundled offline snapshot's manifest: which recorded response answers which request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.payload import RequestSpec

DEFAULT_SNAPSHOT_DIR = Path(__file__).resolve().parent.parent / "data" / "snapshot"


class Exchange(BaseModel):
    """One recorded HTTP exchange: the request as the connector makes it and the response to replay."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dataset: str
    method: str
    url: str
    params: list[tuple[str, str]] = Field(default_factory=list)
    json_body: str | None = None  # canonical JSON (RequestSpec.canonical_body)
    status: int
    headers: dict[str, str]  # lower-cased response headers
    file: str  # body file, relative to the manifest's folder

    def request(self) -> RequestSpec:
        return RequestSpec(self.method.upper(), self.url, tuple(self.params), self.json_body)


class Manifest(BaseModel):
    """The whole bundled snapshot: a label saying what it is, and its exchanges."""

    model_config = ConfigDict(extra="forbid")
    label: str  # "demo" for the calibrated demo snapshot
    description: str
    created: str  # ISO date
    exchanges: list[Exchange] = Field(default_factory=list)
    # per dataset, the catalogue options the recording was made with (e.g. a fixed reference_date),
    # applied on replay so that the connector asks exactly the recorded requests
    dataset_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def is_demo(self) -> bool:
        return self.label == "demo"


def read_manifest(folder: Path = DEFAULT_SNAPSHOT_DIR) -> Manifest:
    """Load manifest.json from a snapshot folder."""
    return Manifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(manifest: Manifest, folder: Path) -> None:
    """Write manifest.json (sorted, stable) into a snapshot folder."""
    ordered = sorted(manifest.exchanges, key=lambda e: (e.dataset, e.file))
    data = manifest.model_copy(update={"exchanges": ordered}).model_dump(mode="json")
    (folder / "manifest.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
