"""Storage: migrations, idempotent reloads, vintages and as-of reads, atomicity, unicode, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, inspect, select

from storage import read, schema
from storage.checks import ObservationError
from storage.engine import migrate, open_database
from storage.load import DatasetInfo, load_snapshot
from storage.rawstore import RawStore
from tests.conftest import make_payload

T0 = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def frame(
    values: dict[tuple[str, str, str], float | None], flags: dict[tuple[str, str, str], str] | None = None
) -> pl.DataFrame:
    """Observations keyed by (area, sector1, period) in kt CO2e."""
    flags = flags or {}
    return pl.DataFrame(
        {
            "area": [k[0] for k in values],
            "sector1": [k[1] for k in values],
            "period": [k[2] for k in values],
            "value": list(values.values()),
            "flag": [flags.get(k) for k in values],
            "unit": ["kt CO2e"] * len(values),
        },
        schema={
            "area": pl.String,
            "sector1": pl.String,
            "period": pl.String,
            "value": pl.Float64,
            "flag": pl.String,
            "unit": pl.String,
        },
    )


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())


def test_migrations_create_every_table_from_empty(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(schema.metadata.tables) <= tables
    assert "alembic_version" in tables
    migrate(engine)  # a second run is a no-op
    assert set(inspect(engine).get_table_names()) == tables


def test_load_then_identical_reload_changes_nothing(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    data = frame({("049", "Liikenne", "2022"): 250.0, ("049", "Liikenne", "2023"): 240.5})
    first = load_snapshot(
        engine, dataset_info, [make_payload(b"v1", T0)], data, reader_version="t/1", raw_store=raw_store
    )
    assert (first.added, first.revised, first.unchanged, first.unchanged_payload) == (2, 0, 0, False)
    again = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v1", T0 + timedelta(days=1))],
        data,
        reader_version="t/1",
        raw_store=raw_store,
    )
    assert again.unchanged_payload and again.snapshot_id == first.snapshot_id
    assert "unchanged" in again.summary()
    assert count(engine, "snapshot") == 1 and count(engine, "observation") == 2


def test_same_values_in_new_bytes_count_as_unchanged(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    data = frame({("049", "Liikenne", "2022"): 250.0})
    load_snapshot(
        engine, dataset_info, [make_payload(b"v1", T0)], data, reader_version="t/1", raw_store=raw_store
    )
    result = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v1 reformatted", T0 + timedelta(days=1))],
        data,
        reader_version="t/1",
        raw_store=raw_store,
    )
    assert (result.added, result.revised, result.unchanged) == (0, 0, 1)
    assert count(engine, "observation") == 1


def test_revision_keeps_old_value_queryable_as_of(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    t1 = T0 + timedelta(days=30)
    load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v1", T0)],
        frame(
            {("049", "Liikenne", "2023"): 240.5, ("049", "Sähkö", "2023"): 90.0},
            {("049", "Liikenne", "2023"): "p"},
        ),
        reader_version="t/1",
        raw_store=raw_store,
    )
    result = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v2", t1)],
        frame(
            {
                ("049", "Liikenne", "2023"): 238.0,
                ("049", "Sähkö", "2023"): 90.0,
                ("049", "Liikenne", "2024"): 230.0,
            }
        ),
        reader_version="t/1",
        raw_store=raw_store,
    )
    assert (result.added, result.revised, result.unchanged) == (1, 1, 1)

    current = read.observations(engine, "hsy_emissions").sort("sector1", "period")
    assert current.filter(pl.col("sector1") == "Liikenne")["value"].to_list() == [238.0, 230.0]
    assert current.filter(pl.col("sector1") == "Liikenne", pl.col("period") == "2023")["flag"].to_list() == [
        None
    ]

    before = read.observations(engine, "hsy_emissions", as_of=T0 + timedelta(days=1))
    traffic = before.filter(pl.col("sector1") == "Liikenne")
    assert traffic["value"].to_list() == [240.5] and traffic["flag"].to_list() == ["p"]
    assert read.observations(engine, "hsy_emissions", as_of=T0 - timedelta(days=1)).height == 0
    # as of a date: everything fetched on that day is included
    assert read.observations(engine, "hsy_emissions", as_of=t1.date()).height == 3
    assert count(engine, "observation") == 4


def test_missing_value_is_null_not_zero_and_flag_change_is_a_revision(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v1", T0)],
        frame({("049", "Maatalous", "2023"): None}, {("049", "Maatalous", "2023"): ".."}),
        reader_version="t/1",
        raw_store=raw_store,
    )
    stored = read.observations(engine, "hsy_emissions")
    assert stored["value"].to_list() == [None] and stored["flag"].to_list() == [".."]
    result = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"v2", T0 + timedelta(days=1))],
        frame({("049", "Maatalous", "2023"): 1.5}),
        reader_version="t/1",
        raw_store=raw_store,
    )
    assert result.revised == 1


def test_unicode_names_round_trip(engine: Engine, raw_store: RawStore, dataset_info: DatasetInfo) -> None:
    names = ["Lämmitys", "Jätteiden käsittely", "Område å", "Öljylämmitys"]
    data = frame({("049", name, "2023"): float(i) for i, name in enumerate(names)})
    load_snapshot(
        engine,
        dataset_info,
        [make_payload("Päästöt å".encode(), T0)],
        data,
        reader_version="t/1",
        raw_store=raw_store,
    )
    stored = read.observations(engine, "hsy_emissions")
    assert sorted(stored["sector1"].to_list()) == sorted(names)
    assert read.snapshots(engine)["dataset_id"].to_list() == ["hsy_emissions"]
    with engine.connect() as conn:
        assert conn.execute(select(schema.dataset.c.title)).scalar_one() == "Päästöt pääkaupunkiseudulla"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (frame({("049", "Liikenne", "2023"): float("nan")}), "value"),
        (frame({("049", "Liikenne", "2023"): float("inf")}), "value"),
        (frame({("049", "Liikenne", "2023"): 1.0}).with_columns(pl.lit("kt CO2").alias("unit")), "unit"),
        (
            pl.concat([frame({("049", "Liikenne", "2023"): 1.0}), frame({("049", "Liikenne", "2023"): 2.0})]),
            "rows",
        ),
        (frame({("049", "Liikenne", "23"): 1.0}), "period"),
        (frame({("049", "Liikenne", "2023"): 1.0}).drop("unit"), "unit"),
        (frame({}), "rows"),
    ],
    ids=["nan", "inf", "unknown-unit", "duplicate-key", "bad-period", "missing-unit", "empty"],
)
def test_bad_input_is_rejected_and_nothing_written(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore, bad: pl.DataFrame, field: str
) -> None:
    good = frame({("049", "Liikenne", "2022"): 250.0})
    load_snapshot(
        engine, dataset_info, [make_payload(b"good", T0)], good, reader_version="t/1", raw_store=raw_store
    )
    with pytest.raises(ObservationError) as caught:
        load_snapshot(
            engine,
            dataset_info,
            [make_payload(b"bad", T0 + timedelta(days=1))],
            bad,
            reader_version="t/1",
            raw_store=raw_store,
        )
    assert caught.value.source == "hsy_emissions" and caught.value.field == field
    assert str(caught.value).startswith(f"hsy_emissions: {field}: expected")
    assert count(engine, "snapshot") == 1 and count(engine, "observation") == 1
    assert read.observations(engine)["value"].to_list() == [250.0]


def test_failure_inside_the_transaction_rolls_back(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    def explode(stage: str) -> None:
        if stage.startswith(("copied", "inserted")):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        load_snapshot(
            engine,
            dataset_info,
            [make_payload(b"v1", T0)],
            frame({("049", "Liikenne", "2023"): 1.0}),
            reader_version="t/1",
            raw_store=raw_store,
            on_stage=explode,
        )
    for table in ("snapshot", "payload", "series", "observation", "dataset", "source"):
        assert count(engine, table) == 0, table


def test_raw_bytes_and_provenance_are_kept(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    result = load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"raw xlsx bytes", T0)],
        frame({("049", "Liikenne", "2023"): 1.0}),
        reader_version="t/1",
        raw_store=raw_store,
    )
    prov = read.provenance(engine, [result.snapshot_id])
    assert prov["url"].to_list() == ["https://example.test/data.xlsx"]
    assert prov["licence"].to_list() == ["CC BY 4.0"]
    assert raw_store.get(prov["sha256"][0]) == b"raw xlsx bytes"


def test_many_payloads_are_stored_at_once_each_once_and_in_order(tmp_path: Path) -> None:
    import hashlib

    store = RawStore(tmp_path / "raw")
    bodies = [f"municipality {i};kt\n{i}".encode() for i in range(40)]
    bodies += [bodies[3], b""]  # a repeated body and an empty one
    stored = store.put_all(bodies)
    assert [sha for sha, _path in stored] == [hashlib.sha256(b).hexdigest() for b in bodies]  # in order
    assert [store.get(sha) for sha, _path in stored] == bodies
    assert all(
        (tmp_path / "raw" / path).read_bytes() == body
        for (_sha, path), body in zip(stored, bodies, strict=True)
    )
    files = [p for p in (tmp_path / "raw").rglob("*") if p.is_file()]
    assert len(files) == 41 and not any(
        p.name.startswith(".tmp-") for p in files
    )  # stored once, no leftovers
    assert store.put_all(bodies[:1]) == stored[:1] and store.put_all([]) == []


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from datetime import UTC, datetime
    import polars as pl
    from storage.engine import open_database
    from storage.load import DatasetInfo, SourceInfo, load_snapshot
    from storage.rawstore import RawStore
    from tests.conftest import make_payload

    url, raw = sys.argv[1], sys.argv[2]
    n = 400_000
    data = pl.DataFrame({
        "area": ["049"] * n, "sector1": [f"s{i % 4000}" for i in range(n)],
        "period": [str(1900 + i // 4000) for i in range(n)], "value": [float(i) for i in range(n)],
        "flag": [None] * n, "unit": ["kt CO2e"] * n,
    }, schema_overrides={"flag": pl.String})
    def stage(name):
        if name.startswith(("copied", "inserted")):
            print("MIDWAY", flush=True)
            time.sleep(60)
    engine = open_database(url)
    load_snapshot(engine, DatasetInfo("big", "Big", "x", SourceInfo("s", "S", "L", "A", "H")),
                  [make_payload(b"big", datetime(2025, 1, 1, tzinfo=UTC))], data,
                  reader_version="t/1", raw_store=RawStore(__import__("pathlib").Path(raw)), on_stage=stage)
    """
)


@pytest.mark.slow
def test_sigkill_during_load_leaves_database_as_before(
    engine: Engine, db_url: str, dataset_info: DatasetInfo, raw_store: RawStore, tmp_path: Path
) -> None:
    load_snapshot(
        engine,
        dataset_info,
        [make_payload(b"good", T0)],
        frame({("049", "Liikenne", "2022"): 250.0}),
        reader_version="t/1",
        raw_store=raw_store,
    )
    before = {t: count(engine, t) for t in ("snapshot", "payload", "series", "observation", "dataset")}
    script = tmp_path / "kill_me.py"
    script.write_text(KILL_SCRIPT)
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, str(script), db_url, str(tmp_path / "raw")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "MIDWAY"  # rows are being written inside the transaction
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    engine.dispose()
    reopened = open_database(db_url)
    assert {t: count(reopened, t) for t in before} == before
    assert read.observations(reopened)["value"].to_list() == [250.0]
    reopened.dispose()


def test_migration_0005_keeps_the_data_and_the_current_index_and_drops_only_the_row_keys(
    db_url: str, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    from alembic import command

    from storage.engine import alembic_config, create_db_engine

    engine = create_db_engine(db_url)
    try:
        with engine.begin() as connection:  # a database of the previous schema, with data in it
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
        data = frame({("049", "Liikenne", "2022"): 250.0, ("049", "Liikenne", "2023"): 240.5})
        load_snapshot(
            engine, dataset_info, [make_payload(b"v1", T0)], data, reader_version="t/1", raw_store=raw_store
        )
        before = read.observations(engine, dataset_info.id)
        migrate(engine)
        after = read.observations(engine, dataset_info.id)
        assert after.equals(before)
        inspector = inspect(engine)
        assert [k["referred_table"] for k in inspector.get_foreign_keys("observation")] == []
        assert {k["referred_table"] for k in inspector.get_foreign_keys("series")} == {"dataset"}
        # the partial unique index still allows one current row per series and period, and only one
        revised = frame({("049", "Liikenne", "2022"): 251.0, ("049", "Liikenne", "2023"): 240.5})
        second = load_snapshot(
            engine,
            dataset_info,
            [make_payload(b"v2", T0 + timedelta(days=1))],
            revised,
            reader_version="t/1",
            raw_store=raw_store,
        )
        assert (second.added, second.revised, second.unchanged) == (0, 1, 1)
        with engine.connect() as conn:
            current = conn.execute(
                select(func.count())
                .select_from(schema.observation)
                .where(schema.observation.c.valid_to.is_(None))
            ).scalar_one()
        assert current == 2
        with pytest.raises(Exception, match=r"(?i)unique"), engine.begin() as conn:
            row = conn.execute(
                select(schema.observation).where(schema.observation.c.valid_to.is_(None))
            ).first()
            assert row is not None
            conn.execute(schema.observation.insert().values({**row._mapping, "snapshot_id": 999999}))
    finally:
        engine.dispose()


def test_a_reference_to_a_missing_series_or_snapshot_is_caught(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    from storage.load import check_references

    data = frame({("049", "Liikenne", "2022"): 250.0})
    first = load_snapshot(
        engine, dataset_info, [make_payload(b"v1", T0)], data, reader_version="t/1", raw_store=raw_store
    )
    with engine.connect() as conn:
        check_references(conn)  # a load leaves every reference whole
        check_references(conn, first.snapshot_id)
    # the whole table's check, then one snapshot's (the load's): a broken series, rows of a missing snapshot
    orphans: list[tuple[dict[str, int], int | None]] = [
        ({"series_id": 424242}, None),
        ({"snapshot_id": 424242}, None),
        ({"series_id": 424242}, first.snapshot_id),
        ({"snapshot_id": 424242}, 424242),
    ]
    for change, checked in orphans:
        with (
            pytest.raises(RuntimeError, match="1 observations refer to a series or snapshot"),
            engine.begin() as conn,
        ):
            row = conn.execute(select(schema.observation)).first()
            assert row is not None
            conn.execute(schema.observation.insert().values({**row._mapping, "period": "1999", **change}))
            check_references(conn, checked)
    with engine.connect() as conn:
        check_references(conn, 424242)  # a snapshot that neither exists nor has rows: nothing broken
    assert count(engine, "observation") == 1  # each broken row was rolled back with its transaction
