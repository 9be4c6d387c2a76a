"""Writes the bundled offline demo snapshot (data/snapshot/) from the per-source generators.

    .venv/bin/python -m scripts.make_demo_snapshot [--out data/snapshot]

The output is deterministic (fixed seeds, fixed dates): running it twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ingest.manifest import DEFAULT_SNAPSHOT_DIR, Manifest, write_manifest
from scripts.demo import covenant, eurostat, fingrid, hsy, oecd, statfin, syke

DESCRIPTION = (
    "DEMO DATA in the real wire formats of HSY (CKAN + XLSX), Syke (CSV), Statistics Finland and "
    "Traficom (PxWeb JSON-stat 2.0), Eurostat (JSON-stat 2.0, including the city statistics of the peer "
    "cities), Fingrid (paged JSON), the OECD (SDMX-ML structure + CSV with labels) and the JRC Covenant "
    "of Mayors (directory listings + XLSX) for European peer cities. "
    "Values are calibrated to Espoo's "
    "published figures (2023 = 742 kt CO2e, −30 % on 1990, 2.4 t per resident; 2030 target 212 kt) and "
    "plausible elsewhere. They are not the publishers' data."
)


def build(folder: Path) -> Manifest:
    """Generate every source's exchanges into folder and write its manifest."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    manifest = Manifest(
        label="demo",
        description=DESCRIPTION,
        created="2026-11-23",
        dataset_options={
            "fingrid_emission_factor": {"reference_date": fingrid.DEMO_REFERENCE_DATE.isoformat()},
        },
    )
    for module in (hsy, syke, statfin, eurostat, fingrid, oecd, covenant):
        module.generate(folder, manifest)
    syke.generate_population(folder, manifest)
    eurostat.generate_urban(folder, manifest)
    write_manifest(manifest, folder)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_SNAPSHOT_DIR)
    args = parser.parse_args()
    manifest = build(args.out)
    print(f"wrote {len(manifest.exchanges)} exchanges to {args.out}")


if __name__ == "__main__":
    main()
