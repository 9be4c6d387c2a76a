"""Runtime configuration from the environment (KESTAVA_*), with embedded defaults for a fresh clone."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    """Settings read from environment variables prefixed KESTAVA_ (e.g. KESTAVA_DATABASE_URL)."""

    model_config = SettingsConfigDict(env_prefix="KESTAVA_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Where the SQLite file and raw payloads go")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    snapshot_dir: Path = Field(
        default=DEFAULT_DATA_DIR / "snapshot", description="The bundled offline snapshot (manifest.json)"
    )
    report_dir: Path | None = Field(default=None, description="Where reports go (default: data_dir/reports)")
    site_dir: Path | None = Field(default=None, description="The public site (default: data_dir/site)")
    syke_municipalities: str | None = Field(
        default=None,
        description='Syke municipalities to ingest, overriding the catalogue: "all" (the whole country, 308) '
        'or numbers separated by commas ("049,091")',
    )

    http_deadline_s: float = Field(
        default=300.0,
        gt=0,
        description="The overall deadline of one HTTP request of an ingest, all its attempts and bodies "
        "together (s): a stalled or trickling server cannot keep a fetch alive beyond it",
    )

    job_time_limit_min: float = Field(
        default=360.0,
        gt=0,
        description="A scheduled job still running after this many minutes is a problem (hung): shown by "
        "`kestava status` (exit 1) and alerted by the scheduler",
    )

    min_free_disk_gb: float = Field(
        default=2.0,
        ge=0,
        description="Free space (GB, 10⁹ bytes) below which a file system the tracker writes to (data, "
        "raw payloads, reports, the site, a SQLite file) is a problem: shown by `kestava status` (exit 1) "
        "and alerted by the scheduler's daily health check; 0 turns the check off",
    )

    report_keep_weeks: int = Field(
        default=26,
        ge=0,
        description="Weeks a weekly report is kept whole: the current week's report and those of the N "
        "weeks before it keep every file; an older week's keeps its page (report.html) and its CSVs, and "
        "its PNG, SVG and XLSX files (18.2 of a week's 27 MB) are removed, by the weekly report job "
        "and `kestava report`/`run` (report/retention.py); 0 keeps every file of every report",
    )

    allow_mixed_data: bool = Field(
        default=False,
        description="Load demo data (the bundled snapshot) and live data into one database: for a test or "
        "demonstration database only. Unset, a load of the other kind than the database holds is refused "
        "(storage.data_kind), so that no report shows demo numbers among live ones",
    )

    cdp_enabled: bool = Field(
        default=False,
        description="Opt in to the CDP-ICLEI city disclosures (catalogue datasets with enabled_by = "
        '"cdp_enabled"): ingested for internal use only, see cdp_licence',
    )
    cdp_licence: str | None = Field(
        default=None,
        description="The licence (or written consent) under which CDP-ICLEI rows may be published in "
        "reports and exports; unset: they never are (cdp.net's terms forbid use beyond internal use "
        "without written consent)",
    )
    accessibility_feedback: str | None = Field(
        default=None,
        description="Where the public site's accessibility statement asks readers to send accessibility "
        "feedback: an e-mail address or a web form's https:// address (the city's feedback channel); unset: "
        "the statement says that the publisher must set it, and `kestava site` warns",
    )

    @model_validator(mode="after")
    def _reports_follow_data_dir(self) -> Settings:
        if self.report_dir is None:
            self.report_dir = self.data_dir / "reports"
        if self.site_dir is None:
            self.site_dir = self.data_dir / "site"
        return self

    @property
    def reports(self) -> Path:
        """The report folder (report_dir, which defaults to data_dir/reports)."""
        assert self.report_dir is not None
        return self.report_dir

    @property
    def site(self) -> Path:
        """The public site's folder (site_dir, which defaults to data_dir/site)."""
        assert self.site_dir is not None
        return self.site_dir

    @property
    def raw_dir(self) -> Path:
        """Content-addressed store of every raw payload (by sha256)."""
        return self.data_dir / "raw"

    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded default SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'kestava.sqlite3'}"


@cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
