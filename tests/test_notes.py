"""Staff notes: stored with history on both backends, the `kestava note` commands, the migration, the
council report showing each note in its own language beside its indicator."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html import escape as html_escape
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, inspect, select
from typer.testing import CliRunner

from common.config import get_settings
from common.errors import EXIT_USAGE
from common.helsinki import HELSINKI
from indicators.query import known_note_indicators
from kestava import api
from kestava.cli import app
from report import weekly
from report.charts import indicator_label
from report.i18n import t
from report.notes import render_markdown, report_notes
from storage import read, schema
from storage.as_of import database_as_of
from storage.engine import migrate
from storage.load import DatasetInfo, load_snapshot
from storage.notes import (
    NoteError,
    add_note,
    edit_note,
    list_notes,
    period_bounds,
    versions,
    withdraw_note,
)
from storage.rawstore import RawStore
from tests.conftest import make_payload
from tests.test_storage import frame

KNOWN = frozenset({"ghg_total", "ghg_by_sector", "ghg_by_sector.transport"})
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
runner = CliRunner()


def clean(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def _add(engine: Engine, **given: object) -> int:
    fields: dict[str, object] = {
        "period": "2024",
        "lang": "fi",
        "body": "Päästöt laskivat.",
        "author": "Anna Analyytikko",
        "known_indicators": KNOWN,
        "now": T0,
        **given,
    }
    indicator = str(fields.pop("indicator", "ghg_total"))
    return add_note(engine, indicator, **fields).id  # type: ignore[arg-type]


# --- storage, on SQLite and PostgreSQL ----------------------------------------------------------------


def test_add_edit_withdraw_keep_every_version_and_list_only_current(engine: Engine) -> None:
    first = _add(engine, body="Päästöt **laskivat** kaukolämmön vuoksi.")
    other_lang = _add(engine, lang="sv", body="Utsläppen minskade.")
    other_area = _add(engine, area="091", body="Helsinki.")
    [note] = list_notes(engine, indicator="ghg_total", area="049", lang="fi")
    assert (note.id, note.period, note.author, note.replaces) == (first, "2024", "Anna Analyytikko", None)
    assert note.created_at == T0.replace(tzinfo=None)  # naive UTC, as every stored time

    edited = edit_note(engine, first, author="Bo Berg", body="Päästöt laskivat 5 %.", now=T0 + timedelta(1))
    assert edited.id != first and edited.replaces == first and edited.period == "2024"
    current = list_notes(engine, lang="fi", area="049")
    assert [n.id for n in current] == [edited.id]
    assert [n.body for n in versions(engine, first)] == [
        "Päästöt **laskivat** kaukolämmön vuoksi.",
        "Päästöt laskivat 5 %.",
    ]
    assert [n.id for n in versions(engine, edited.id)] == [first, edited.id]

    gone = withdraw_note(engine, edited.id, author="Cia Chef", why="Luku oli väärä", now=T0 + timedelta(2))
    assert (gone.withdrawn_by, gone.withdrawn_why) == ("Cia Chef", "Luku oli väärä")
    assert gone.withdrawn_at == (T0 + timedelta(2)).replace(tzinfo=None)
    assert list_notes(engine, lang="fi", area="049") == []
    assert {n.id for n in list_notes(engine)} == {other_lang, other_area}
    assert len(list_notes(engine, history=True)) == 4  # nothing deleted
    with engine.connect() as conn:
        assert conn.execute(select(schema.note.c.id)).scalars().all() != []

    with pytest.raises(NoteError, match=f"note {first} was edited: its current version is note {edited.id}"):
        edit_note(engine, first, author="Bo Berg", body="again")
    with pytest.raises(NoteError, match=f"note {edited.id} was withdrawn by Cia Chef"):
        withdraw_note(engine, edited.id, author="Bo Berg", why="again")
    with pytest.raises(NoteError, match=r"^id: no note with id 999"):
        edit_note(engine, 999, author="Bo Berg", body="x")


def test_list_filters_by_indicator_area_period_and_language(engine: Engine) -> None:
    a = _add(engine)
    b = _add(engine, period="2026-H1")
    c = _add(engine, indicator="ghg_by_sector.transport", period="2026-W45", lang="en")
    assert [n.id for n in list_notes(engine, indicator="ghg_total")] == [a, b]
    assert [n.id for n in list_notes(engine, period="2026-H1")] == [b]
    assert [n.id for n in list_notes(engine, lang=["en", "sv"])] == [c]
    assert [n.id for n in list_notes(engine, indicator=["ghg_by_sector.transport"], area="049")] == [c]
    assert list_notes(engine, area="091") == []


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"indicator": "ghg_totl"}, "indicator", "unknown indicator 'ghg_totl'; nearest: ghg_total"),
        ({"period": "2024-H3"}, "period", "expected YYYY, YYYY-H1/H2"),
        ({"period": "24"}, "period", "got '24'"),
        ({"period": "2025-W53"}, "period", "got '2025-W53'"),  # 2025 has 52 ISO weeks
        ({"period": "2026-13"}, "period", "got '2026-13'"),
        ({"lang": "de"}, "lang", "expected one of fi, sv, en, got 'de'"),
        ({"body": "  \n "}, "text", "expected the note's text (Markdown), got an empty text"),
        ({"body": "x" * 20_001}, "text", "expected at most 20000 characters"),
        ({"author": " "}, "author", "expected a person's name"),
        ({"area": "Espoo city"}, "area", "expected an area code such as 049"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    engine: Engine, given: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(NoteError, match=re.escape(message)) as caught:
        _add(engine, **given)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")
    assert list_notes(engine, history=True) == []


def test_an_edit_must_change_something_and_a_withdrawal_needs_a_reason(engine: Engine) -> None:
    note = _add(engine)
    with pytest.raises(NoteError, match="expected a change"):
        edit_note(engine, note, author="Bo", body="Päästöt laskivat.")
    with pytest.raises(NoteError, match=r"^why: "):
        withdraw_note(engine, note, author="Bo", why=" ")
    with pytest.raises(NoteError, match=r"^lang: "):
        edit_note(engine, note, author="Bo", lang="xx")
    moved = edit_note(engine, note, author="Bo", period="2025", lang="sv")
    assert (moved.period, moved.lang, moved.body) == ("2025", "sv", "Päästöt laskivat.")
    assert len(list_notes(engine, history=True)) == 2


def test_one_version_may_replace_a_note_only_once(engine: Engine) -> None:
    """Two edits of the same version racing: the database keeps one line of versions."""
    note = _add(engine)
    edit_note(engine, note, author="Bo", body="one")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), engine.begin() as conn:
        conn.execute(
            schema.note.insert().values(
                indicator_id="ghg_total",
                area="049",
                period="2024",
                lang="fi",
                body="two",
                author="Cia",
                created_at=T0.replace(tzinfo=None),
                replaces=note,
            )
        )


@pytest.mark.parametrize(
    ("period", "bounds"),
    [
        ("2024", (date(2024, 1, 1), date(2024, 12, 31))),
        ("2026-H1", (date(2026, 1, 1), date(2026, 6, 30))),
        ("2026-H2", (date(2026, 7, 1), date(2026, 12, 31))),
        ("2026-Q3", (date(2026, 7, 1), date(2026, 9, 30))),
        ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2026-W45", (date(2026, 11, 2), date(2026, 11, 8))),
        ("2026-W53", (date(2026, 12, 28), date(2027, 1, 3))),
    ],
)
def test_period_bounds(period: str, bounds: tuple[date, date]) -> None:
    assert period_bounds(period) == bounds


def test_the_api_returns_current_notes_as_a_frame(engine: Engine) -> None:
    _add(engine, body="Suomeksi")
    _add(engine, lang="en", body="In English", period="2026-H1")
    frame = api.notes("ghg_total", area="Esbo", lang="en", engine=engine)
    assert frame.columns == [
        "id",
        "indicator",
        "area",
        "period",
        "lang",
        "body",
        "author",
        "created_at",
        "replaces",
    ]
    assert frame.select("area", "period", "lang", "body").rows() == [("049", "2026-H1", "en", "In English")]
    assert frame.schema["created_at"] == pl.Datetime("us", "UTC")  # the API gives UTC-aware times
    assert api.notes(period="2024", engine=engine)["body"].to_list() == ["Suomeksi"]
    assert api.notes("ghg_by_sector", engine=engine).height == 0
    with pytest.raises(ValueError, match="unknown indicator 'ghg_totall'; nearest: ghg_total"):
        api.notes("ghg_totall", engine=engine)
    with pytest.raises(ValueError, match="period: expected"):
        api.notes(period="last year", engine=engine)


def test_a_copy_as_of_a_past_moment_keeps_the_notes(engine: Engine) -> None:
    """A closed period's report reads a copy of the database: notes written after the period are in it."""
    first = _add(engine)
    edit_note(engine, first, author="Bo", body="Korjattu", now=T0 + timedelta(days=400))
    with database_as_of(engine, T0 - timedelta(days=1)) as copy:
        assert [n.body for n in list_notes(copy)] == ["Korjattu"]
        assert len(list_notes(copy, history=True)) == 2


def test_migration_0006_upgrades_a_database_holding_data(
    db_url: str, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    from alembic import command

    from storage.engine import alembic_config, create_db_engine, head_revision

    engine = create_db_engine(db_url)
    try:
        with engine.begin() as connection:  # a database of the previous schema, with data in it
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
        data = frame({("049", "Liikenne", "2022"): 250.0, ("049", "Liikenne", "2023"): 240.5})
        load_snapshot(
            engine, dataset_info, [make_payload(b"v1", T0)], data, reader_version="t/1", raw_store=raw_store
        )
        before = read.observations(engine, dataset_info.id)
        assert "note" not in inspect(engine).get_table_names()
        migrate(engine)
        assert head_revision() >= "0006"
        assert read.observations(engine, dataset_info.id).equals(before)
        assert "note" in inspect(engine).get_table_names()
        note = _add(engine)
        assert [n.id for n in list_notes(engine)] == [note]
        with engine.begin() as connection:  # and back: the notes go, the data stay
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        assert "note" not in inspect(engine).get_table_names()
        assert read.observations(engine, dataset_info.id).equals(before)
    finally:
        engine.dispose()


# --- the command line ------------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private data folder (SQLite file) for the commands; the logging set-up put back afterwards."""
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KESTAVA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield tmp_path
    root.handlers[:], root.level = handlers, level
    get_settings.cache_clear()


ADD = ("note", "add", "ghg_total", "--period")


def test_note_commands_round_trip(data_dir: Path) -> None:
    text_file = data_dir / "note.md"
    text_file.write_text("Päästöt **laskivat** [HSY](https://www.hsy.fi).\n", encoding="utf-8")
    added = runner.invoke(
        app,
        [*ADD, "2024", "--lang", "fi", "--author", "Anna A", "--file", str(text_file), "--area", "Esbo"],
    )
    assert added.exit_code == 0, added.output
    assert "added note 1: ghg_total · 049 · 2024 · fi · Anna A" in clean(added.output)
    sv = runner.invoke(
        app,
        [*ADD, "2026-H1", "--lang", "sv", "--author", "Bo", "--text", "Utsläppen [minskade]"],
    )
    assert sv.exit_code == 0, sv.output
    edited = runner.invoke(app, ["note", "edit", "1", "--author", "Cia", "--text", "Päästöt laskivat 5 %."])
    assert edited.exit_code == 0 and "edited note 1: now note 3" in clean(edited.output)

    listed = runner.invoke(app, ["note", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    notes = json.loads(listed.stdout)
    assert [(n["id"], n["lang"], n["body"], n["author"]) for n in notes] == [
        (3, "fi", "Päästöt laskivat 5 %.", "Cia"),
        (2, "sv", "Utsläppen [minskade]", "Bo"),
    ]
    assert notes[0]["replaces"] == 1 and notes[0]["created_at"].endswith("+00:00")
    table = runner.invoke(app, ["note", "list", "--lang", "sv"])
    assert table.exit_code == 0 and "Utsläppen [minskade]" in clean(table.output)
    assert "Päästöt" not in table.output and "1 note" in table.output

    withdrawn = runner.invoke(app, ["note", "withdraw", "2", "--author", "Bo", "--why", "fel period"])
    assert withdrawn.exit_code == 0 and "withdrew note 2 by Bo" in clean(withdrawn.output)
    assert [n["id"] for n in json.loads(runner.invoke(app, ["note", "list", "--json"]).stdout)] == [3]
    history = json.loads(runner.invoke(app, ["note", "list", "--all", "--json"]).stdout)
    assert {n["id"]: n["withdrawn_why"] for n in history} == {1: None, 2: "fel period", 3: None}
    again = runner.invoke(app, ["note", "withdraw", "2", "--author", "Bo", "--why", "again"])
    assert again.exit_code == EXIT_USAGE and "note 2 was withdrawn by Bo" in clean(again.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ghg_totl"], "Invalid value for INDICATOR: unknown indicator 'ghg_totl'; nearest: ghg_total"),
        (["ghg_total", "--period", "2026-H3"], "Invalid value for --period: expected YYYY, YYYY-H1/H2"),
        (["ghg_total", "--lang", "de"], "Invalid value for --lang: expected one of fi, sv, en, got 'de'"),
        (["ghg_total", "--text", " "], "Invalid value for --text / --file: expected the note's text"),
        (["ghg_total", "--author", ""], "Invalid value for --author: expected a person's name"),
        (
            ["ghg_total", "--area", "Espo"],
            "Invalid value for --area: area 'Espo' is not known; nearest: Espoo",
        ),
        (["ghg_total", "--text", "x", "--file", "a.md"], "give either --text or --file, not both"),
    ],
)
def test_note_add_bad_arguments_name_the_option(data_dir: Path, args: list[str], message: str) -> None:
    defaults = {"--period": "2024", "--lang": "fi", "--author": "Anna", "--text": "Teksti"}
    given = set(args)
    if "--file" in given:
        defaults.pop("--text")
    extra = [part for option, value in defaults.items() if option not in given for part in (option, value)]
    result = runner.invoke(app, ["note", "add", *args, *extra])
    assert result.exit_code == EXIT_USAGE, result.output
    assert message in clean(result.output)
    assert "Traceback" not in result.output
    assert not (data_dir / "kestava.sqlite3").exists()  # nothing was created for a bad argument


def test_note_list_never_creates_a_database(data_dir: Path) -> None:
    result = runner.invoke(app, ["note", "list"])
    assert result.exit_code == EXIT_USAGE and "no database at" in clean(result.output)
    assert list(data_dir.iterdir()) == []


# --- the council report ----------------------------------------------------------------------------------


def test_markdown_is_rendered_and_raw_html_escaped() -> None:
    html = render_markdown(
        "**Lasku** <script>alert(1)</script> [x](javascript:alert(1)) ![i](http://x/i.png)"
    )
    assert "<strong>Lasku</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html and "<img" not in html


def _open_half() -> weekly.ReportPeriod:
    today = datetime.now(HELSINKI).date()
    return weekly.parse_half(f"{today.year}-H{1 if today.month <= 6 else 2}")


def test_the_council_report_shows_each_note_in_its_language_beside_its_indicator(
    loaded_engine: Engine, tmp_path: Path
) -> None:
    period = _open_half()
    known = known_note_indicators()

    def note(lang: str, body: str, year: int, area: str = "049") -> int:
        return add_note(
            loaded_engine,
            "ghg_total",
            period=str(year),
            lang=lang,
            body=body,
            author="Anna Analyytikko",
            known_indicators=known,
            area=area,
        ).id

    note("fi", "Päästöt **laskivat** <b>raakaa</b>", period.year - 2)
    note("sv", "Utsläppen minskade enligt HSY", period.year - 2)
    note("fi", "Tulevan vuoden huomio", period.year + 1)
    gone = note("fi", "Peruttu huomio", period.year - 2)
    note("fi", "Helsingin *huomio*", period.year - 2, area="091")  # an area the status table has no row for
    withdraw_note(loaded_engine, gone, author="Bo", why="väärä")

    assert set(report_notes(loaded_engine, period.last_day, "fi")) == {
        ("ghg_total", "049"),
        ("ghg_total", "091"),
    }
    result = weekly.build_report(loaded_engine, period, lang="fi", out_dir=tmp_path, images=False)
    html = result.path.read_text(encoding="utf-8")
    assert re.search(f'<th scope="col"[^>]*>{t("report_col.note", "fi")}</th>', html)
    assert "Päästöt <strong>laskivat</strong> &lt;b&gt;raakaa&lt;/b&gt;" in html
    assert "<b>raakaa</b>" not in html
    assert "Anna Analyytikko" in html and f"(jakso {period.year - 2})" in html
    assert "Utsläppen minskade" not in html  # another language's note
    assert "Tulevan vuoden huomio" not in html  # a period after the report's
    assert "Peruttu huomio" not in html  # withdrawn
    # beside the numbers it explains: in the row of the indicator's status, once per indicator
    name = html_escape(indicator_label("ghg_total", "fi"), quote=False)
    heading = re.compile(f'<th scope="row"[^>]*>{re.escape(name)}</th>')
    rows = [r for r in re.split(r"<tr[^>]*>", html) if heading.match(r)]
    assert rows and "laskivat" in rows[0]
    assert sum("laskivat" in r for r in rows) == 1
    # a note on a row the table does not have: below it, under its indicator and area
    below = html.split(f"<h3>{t('report.other_notes_heading', 'fi')}</h3>", 1)[1].split("</dl>", 1)[0]
    assert f"<dt>{name} (Helsinki)</dt>" in below and "Helsingin <em>huomio</em>" in below
    assert "Helsingin" not in "".join(rows) and "laskivat" not in below


def test_a_note_s_period_reads_as_the_report_names_it() -> None:
    from report.notes import note_html
    from storage.notes import Note

    note = Note(1, "electricity_emission_factor", "FI", "2026-W45", "fi", "Tuulinen viikko.", "Anna",
                datetime(2026, 11, 12, 9, 0), None, None, None, None)  # fmt: skip
    html = str(note_html(note, "fi"))
    assert "viikko 45/2026" in html and "2026-W45" not in html  # as the report's own week titles read
