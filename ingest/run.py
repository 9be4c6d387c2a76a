"""Runs ingestion: per dataset, fetch, skip if its reading is unchanged, else lock, parse, validate, load."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from common.errors import DataError, MixedDataError, is_database_error, one_line
from common.payload import Fetcher, Payload
from ingest.acceptance import check_before_load, check_complete_unless_accepted, keep_refused, refused_page
from ingest.catalogue import Catalogue, DatasetSpec, load_catalogue
from ingest.connector import parse_flagged
from ingest.errors import FetchError
from ingest.http import LiveFetcher
from ingest.loading import load_parsed
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, Manifest
from ingest.plausibility import PlausibilityError
from ingest.reading import same_reading
from ingest.registry import connector_for
from ingest.replay import ReplayFetcher, snapshot_manifest
from storage.alert_state import AllClear, ClosedProblem
from storage.engine import autocommit, once_more
from storage.jobs import finish_run, now_utc, record_runs, start_run
from storage.load import (
    LoadResult,
    combined_sha256,
    latest_digest,
)
from storage.locks import (
    BusyError,
    HeldLock,
    LockLostError,
    held_locks_digests_and_namespace,
    job_lock,
    record_unchanged_if_current,
)
from storage.rawstore import RawStore, RawStoreError
from storage.validators import DbValidatorCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetOutcome:
    """How one dataset's ingestion ended."""

    dataset_id: str
    outcome: str  # success, unchanged, rejected, failed, busy
    seconds: float
    result: LoadResult | None = None
    error: str | None = None
    payloads: int = 0  # payloads fetched (0 when the fetch failed: none arrived)
    not_modified: int = 0  # of them, answered HTTP 304 not modified (the cached body reused)
    kept_as: str | None = None  # rejected: the rejected snapshot (digest) the payloads were kept as
    # the problems closed with the run's record (ingest's all_clear); None: no all-clear was made with it
    cleared: tuple[ClosedProblem, ...] | None = None
    # failed because the raw store could not be written (a storage failure, not the data's)
    storage_error: RawStoreError | None = None
    # failed because the database holds the other kind of data (demo or live: storage.data_kind)
    mixing: MixedDataError | None = None
    # failed on the database's error (common.errors.is_database_error), not the data's or the network's
    database_error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("success", "unchanged")


def make_fetcher(
    engine: Engine,
    raw_store: RawStore,
    *,
    offline: bool,
    snapshot_dir: Path | None,
    manifest: Manifest | None = None,
) -> Fetcher:
    """The replaying fetcher for --offline (reusing manifest when given), else the live one."""
    if offline:
        return ReplayFetcher(snapshot_dir or DEFAULT_SNAPSHOT_DIR, manifest=manifest)
    from common.config import get_settings

    return LiveFetcher(DbValidatorCache(engine, raw_store), deadline=get_settings().http_deadline_s)


def offline_spec(spec: DatasetSpec, snapshot_dir: Path, *, manifest: Manifest | None = None) -> DatasetSpec:
    """The dataset as the bundled snapshot recorded it: its option overrides, and no API key needed."""
    manifest = manifest if manifest is not None else snapshot_manifest(snapshot_dir)
    overrides = manifest.dataset_options.get(spec.id, {})
    return spec.model_copy(update={"options": {**spec.options, **overrides}, "secret_env": None})


def configured_spec(spec: DatasetSpec) -> DatasetSpec:
    """The spec with the environment's overrides: KESTAVA_SYKE_MUNICIPALITIES ("all" for the whole
    country, or "049,091") replaces a Syke dataset's options.municipalities (catalogue or snapshot)."""
    from common.config import get_settings

    chosen = get_settings().syke_municipalities
    if not chosen or spec.protocol != "syke_csv":
        return spec
    municipalities: str | list[str] = (
        "all" if chosen.strip() == "all" else [code.strip() for code in chosen.split(",") if code.strip()]
    )
    return spec.model_copy(update={"options": {**spec.options, "municipalities": municipalities}})


@dataclass
class _Known:
    """What this process last saw of a database before a fetch: the schema of its PostgreSQL lock keys, and
    the digest of each dataset's newest snapshot (read before an ingest's fetch, or confirmed since by an
    unchanged run's record)."""

    namespace: str | None
    digests: dict[str, str]


# engine -> what its ingests last read or confirmed: a firing of one dataset whose digest is known here
# fetches without reading first (_on_known_digest)
_KNOWN: weakref.WeakKeyDictionary[Engine, _Known] = weakref.WeakKeyDictionary()


@dataclass
class _Prefetched:
    """What the lock-free look-ahead found: the payloads and the latest digest read before fetching them,
    and the run the fetch was recorded as while it went on (a slow fetch: _LateStart), if any."""

    payloads: list[Payload]
    digest_before: str | None
    run_id: int | None = None
    # the fetch's refusal of an HTML page it carries (acceptance.refused_page), to be kept under the lock
    refused: DataError | None = None


# a look-ahead fetch still going after this long is recorded as a 'running' run (kestava status shows it,
# the time limit can find it hung, a kill leaves it to be closed as interrupted); one that ends sooner,
# every unchanged firing's, writes nothing before its one record
FETCH_VISIBLE_AFTER_S = 2.0


class _LateStart:
    """The run record of a lock-free fetch, made only if the fetch outlasts FETCH_VISIBLE_AFTER_S."""

    def __init__(self, engine: Engine, spec: DatasetSpec, trigger: str, started_at: datetime) -> None:
        self._engine, self._spec, self._trigger, self._started_at = engine, spec, trigger, started_at
        self._lock = threading.Lock()
        self.closed = False
        self.run_id: int | None = None

    def fire(self) -> None:
        """Record the run as running (the watcher thread's call), unless the fetch ended meanwhile."""
        with self._lock:
            if self.closed:
                return
            try:
                self.run_id = start_run(
                    self._engine,
                    f"ingest:{self._spec.id}",
                    dataset_id=self._spec.id,
                    trigger=self._trigger,
                    started_at=self._started_at,
                )
            except Exception as error:  # the fetch goes on; its record is made at its end as ever
                log.warning("%s: could not record the fetch as running: %s", self._spec.id, one_line(error))

    def close(self) -> int | None:
        """The fetch ended: no record is made after this; the run recorded as running, if one was."""
        with self._lock:
            self.closed = True
            return self.run_id


class _Watcher:
    """One daemon thread that fires each watched _LateStart at its deadline unless it was closed first: a
    threading.Timer per fetch costs ≈ 0.18 ms to start and cancel, ≈ 6 % of an unchanged scheduler day
    whose goal is 2 % of a full run; a watch here ≈ 9 µs."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._due: list[tuple[float, int, _LateStart]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, start: _LateStart, delay: float) -> None:
        """Fire start after delay seconds unless it is closed by then."""
        with self._ready:
            entry = (time.monotonic() + delay, next(self._order), start)
            heapq.heappush(self._due, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-late-start", daemon=True)
                self._thread.start()
            elif self._due[0] is entry:  # the earliest now: the thread waits for a later one
                self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while True:
                    while self._due and self._due[0][2].closed:
                        heapq.heappop(self._due)
                    if not self._due:
                        self._ready.wait()
                        continue
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        start = heapq.heappop(self._due)[2]
                        break
                    self._ready.wait(wait)
            start.fire()


_WATCHER = _Watcher()


def ingest_dataset(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    fetcher: Fetcher,
    raw_store: RawStore,
    *,
    trigger: str = "cli",
) -> DatasetOutcome:
    """Ingest one dataset under its job lock; never raises for data or network problems."""
    return _ingest_with_lock(
        engine, catalogue, spec, fetcher, raw_store, trigger, time.monotonic(), now_utc()
    )


def _ingest_with_lock(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    fetcher: Fetcher,
    raw_store: RawStore,
    trigger: str,
    started: float,
    started_at: datetime,
    prefetched: _Prefetched | None = None,
) -> DatasetOutcome:
    job = f"ingest:{spec.id}"
    try:
        with job_lock(engine, job) as lock:
            return _ingest_locked(
                engine, catalogue, spec, fetcher, raw_store, trigger, started, started_at, prefetched, lock
            )
    except BusyError as busy:  # raised only when taking the lock: nothing was written but a slow fetch's run
        run_id = prefetched.run_id if prefetched is not None else None
        if run_id is None:
            run_id = start_run(engine, job, dataset_id=spec.id, trigger=trigger, started_at=started_at)
        finish_run(engine, run_id, "busy", error=str(busy))
        return DatasetOutcome(spec.id, "busy", time.monotonic() - started, error=str(busy))


def _ingest_locked(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    fetcher: Fetcher,
    raw_store: RawStore,
    trigger: str,
    started: float,
    started_at: datetime,
    prefetched: _Prefetched | None,
    lock: HeldLock,
) -> DatasetOutcome:
    job = f"ingest:{spec.id}"
    run_id = prefetched.run_id if prefetched is not None else None  # a slow look-ahead's running run
    if run_id is None:
        run_id = start_run(engine, job, dataset_id=spec.id, trigger=trigger, started_at=started_at)
    connector = connector_for(spec.protocol)
    payloads = []
    try:
        latest = latest_digest(engine, spec.id)
        if prefetched is not None and prefetched.digest_before == latest:
            # nothing was loaded since the look-ahead read the digest, so its fetch is as good as one
            # made now under the lock; otherwise another run loaded meanwhile, and we fetch afresh
            if prefetched.refused is not None:
                raise prefetched.refused
            payloads = prefetched.payloads
        else:
            payloads = connector.fetch(spec, fetcher)
        if payloads and latest == combined_sha256(payloads):
            repair_raw(raw_store, spec.id, payloads)
            finish_run(engine, run_id, "unchanged")
            log.info("%s: payload unchanged; skipped", spec.id)
            return _fetched(DatasetOutcome(spec.id, "unchanged", time.monotonic() - started), payloads)
        if same_reading(engine, connector, spec.id, payloads, raw_store):  # not parsed: nothing to load
            finish_run(engine, run_id, "unchanged")
            log.info(
                "%s: the answer differs from the newest snapshot only where every answer does; skipped",
                spec.id,
            )
            return _fetched(DatasetOutcome(spec.id, "unchanged", time.monotonic() - started), payloads)
        frame = parse_flagged(connector, spec, payloads)
        check_complete_unless_accepted(engine, spec, payloads, frame, connector.reader_version)
        check_before_load(engine, spec, frame, payloads, raw_store, connector.reader_version)  # plausibility
        result = load_parsed(
            engine,
            catalogue,
            spec,
            payloads,
            frame,
            reader_version=connector.reader_version,
            raw_store=raw_store,
            lock=lock,
        )
    except FetchError as error:
        finish_run(engine, run_id, "failed", error=str(error))
        log.error("%s: fetch failed: %s", spec.id, error)
        failed = DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=str(error))
        return _fetched(failed, payloads)
    except DataError as error:
        message = str(error)
        refused = payloads or refused_page(error)
        # a plausibility rejection was kept by check_before_load
        kept_as = combined_sha256(payloads) if isinstance(error, PlausibilityError) else None
        if refused and not isinstance(error, PlausibilityError):
            # refused by the fetcher (an HTML page), the parser, the shape checks or the completeness
            # check: kept for inspection
            try:
                kept_as, note = keep_refused(
                    engine, spec, refused, raw_store, connector.reader_version, error
                )
            except RawStoreError as storage:
                failed = _storage_failed(engine, run_id, spec.id, started, storage, f" (rejected: {error})")
                return _fetched(failed, refused)
            message += note
        finish_run(engine, run_id, "rejected", error=message)
        log.error("%s: rejected: %s", spec.id, message)
        rejected = DatasetOutcome(
            spec.id, "rejected", time.monotonic() - started, error=message, kept_as=kept_as
        )
        return _fetched(rejected, refused)
    except MixedDataError as error:  # demo into live or live into demo: nothing written, no retry helps
        finish_run(engine, run_id, "failed", error=str(error))
        log.error("%s", error)
        failed = DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=str(error), mixing=error)
        return _fetched(failed, payloads)
    except LockLostError as error:  # the load rolled back; the next run loads the payload again
        finish_run(engine, run_id, "failed", error=str(error))
        log.error("%s", error)
        failed = DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=str(error))
        return _fetched(failed, payloads)
    except RawStoreError as error:
        return _fetched(_storage_failed(engine, run_id, spec.id, started, error), payloads)
    except Exception as error:
        message = f"{spec.id}: unexpected {type(error).__name__}: {error}"
        finish_run(engine, run_id, "failed", error=message)
        log.exception("%s: failed", spec.id)
        database = error if is_database_error(error) else None
        failed = DatasetOutcome(
            spec.id, "failed", time.monotonic() - started, error=message, database_error=database
        )
        return _fetched(failed, payloads)
    outcome = "unchanged" if result.unchanged_payload else "success"
    finish_run(
        engine,
        run_id,
        outcome,
        **result.run_counts(),
        snapshot_id=result.snapshot_id,
    )
    log.info("%s", result.summary())
    return _fetched(DatasetOutcome(spec.id, outcome, time.monotonic() - started, result=result), payloads)


def _fetched(outcome: DatasetOutcome, payloads: Sequence[Payload]) -> DatasetOutcome:
    """The outcome with its payload counts: how many were fetched, and of them answered HTTP 304."""
    return replace(outcome, payloads=len(payloads), not_modified=sum(p.not_modified for p in payloads))


def _storage_failed(
    engine: Engine, run_id: int, dataset_id: str, started: float, error: RawStoreError, more: str = ""
) -> DatasetOutcome:
    """Record the run failed for an unwritable raw store, logged in one line (the traceback only with
    --verbose, at debug level); nothing was loaded."""
    message = f"{dataset_id}: storage failure: {error}{more}"
    finish_run(engine, run_id, "failed", error=message)
    log.error("%s", message)
    log.debug("%s: storage failure", dataset_id, exc_info=error)
    seconds = time.monotonic() - started
    return DatasetOutcome(dataset_id, "failed", seconds, error=message, storage_error=error)


def repair_raw(raw_store: RawStore, dataset_id: str, payloads: Sequence[Payload]) -> list[str]:
    """An unchanged dataset's payloads are not stored again: check their raw files against their sha256
    (the digests the newest snapshot recorded) and write each damaged or missing one again from the bytes
    just fetched, logged (a warning per file); the paths repaired. A 304's body came from the store,
    verified: not checked again."""
    repaired = []
    for payload in payloads:
        if payload.not_modified:
            continue
        path = raw_store.repair(payload.body, payload.sha256)
        if path is not None:
            log.warning(
                "%s: payload unchanged, but its raw file %s was damaged or missing; written again from "
                "the payload fetched now (sha256 %s)",
                dataset_id,
                raw_store.root / path,
                payload.sha256,
            )
            repaired.append(path)
    return repaired


def _look_ahead(
    engine: Engine,
    spec: DatasetSpec,
    raw_store: RawStore,
    fetcher: Fetcher,
    trigger: str,
    started: float,
    started_at: datetime,
    digest_before: str | None,
    finished: list[dict[str, object]],
) -> DatasetOutcome | _Prefetched:
    """Fetch without the lock: an unchanged payload or a failed fetch ends here, recorded in `finished`
    (written in one insert later); a changed payload goes on to the locked load, and so does an HTML page
    the fetcher refused, to be kept there as a rejected snapshot. A fetch that outlasts
    FETCH_VISIBLE_AFTER_S is recorded as running meanwhile (_LateStart): its failure then finishes that
    run, and its payloads, changed or not, go on to the locked path, which finishes it."""
    job = f"ingest:{spec.id}"
    record: dict[str, object] = {
        "job": job,
        "dataset_id": spec.id,
        "trigger": trigger,
        "started_at": started_at,
    }
    late = _LateStart(engine, spec, trigger, started_at)
    _WATCHER.watch(late, FETCH_VISIBLE_AFTER_S)
    refused: DataError | None = None
    try:
        payloads = connector_for(spec.protocol).fetch(spec, fetcher)
    except FetchError as error:
        _ended(engine, late, finished, {**record, "outcome": "failed", "error": str(error)})
        log.error("%s: fetch failed: %s", spec.id, error)
        return DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=str(error))
    except DataError as error:
        if refused_page(error):  # an HTML page the fetcher refused: kept under the lock (_ingest_locked)
            refused = error
        else:
            _ended(engine, late, finished, {**record, "outcome": "rejected", "error": str(error)})
            log.error("%s: rejected: %s", spec.id, error)
            return DatasetOutcome(spec.id, "rejected", time.monotonic() - started, error=str(error))
    except Exception as error:
        message = f"{spec.id}: unexpected {type(error).__name__}: {error}"
        _ended(engine, late, finished, {**record, "outcome": "failed", "error": message})
        log.exception("%s: failed", spec.id)
        return DatasetOutcome(spec.id, "failed", time.monotonic() - started, error=message)
    finally:
        run_id = late.close()  # (again after _ended: the same answer)
    if refused is not None:
        return _Prefetched([], digest_before, run_id, refused)
    if run_id is not None:  # recorded as running: the locked path finishes that run, unchanged or not
        return _Prefetched(payloads, digest_before, run_id)
    if payloads and digest_before == combined_sha256(payloads):
        try:
            repair_raw(raw_store, spec.id, payloads)
        except RawStoreError as storage:
            message = f"{spec.id}: storage failure: {storage}"
            finished.append({**record, "finished_at": now_utc(), "outcome": "failed", "error": message})
            log.error("%s", message)
            log.debug("%s: storage failure", spec.id, exc_info=storage)
            failed = time.monotonic() - started
            return DatasetOutcome(spec.id, "failed", failed, error=message, storage_error=storage)
        finished.append({**record, "finished_at": now_utc(), "outcome": "unchanged"})
        log.info("%s: payload unchanged; skipped", spec.id)
        return _fetched(DatasetOutcome(spec.id, "unchanged", time.monotonic() - started), payloads)
    return _Prefetched(payloads, digest_before)


def _ended(
    engine: Engine, late: _LateStart, finished: list[dict[str, object]], row: dict[str, object]
) -> None:
    """A look-ahead fetch that failed: its record joins `finished`, or, when the fetch was recorded as
    running, that run is finished with its outcome and error now."""
    run_id = late.close()
    if run_id is None:
        finished.append({**row, "finished_at": now_utc()})
        return
    error = row.get("error")
    finish_run(engine, run_id, str(row["outcome"]), error=None if error is None else str(error))


def ingest(
    engine: Engine,
    raw_store: RawStore,
    dataset_ids: Sequence[str] = (),
    *,
    offline: bool = False,
    snapshot_dir: Path | None = None,
    catalogue: Catalogue | None = None,
    trigger: str = "cli",
    on_dataset: Callable[[str], None] | None = None,
    on_done: Callable[[DatasetOutcome], None] | None = None,
    fetcher: Fetcher | None = None,
    all_clear: AllClear | None = None,
    raise_storage_failure: bool = False,
) -> list[DatasetOutcome]:
    """Ingest the named datasets (all when none are named); one failure does not stop the others.

    The fetcher is the bundled snapshot's replay when offline, else a live one with conditional
    requests; pass one to override (e.g. different retry timing). It is closed at the end.

    Each dataset is fetched first without its job lock, unless another run holds the lock (then it is
    reported busy without fetching). A payload equal to the dataset's newest snapshot (digests read in
    one query before fetching) is recorded as an 'unchanged' run, and all such runs (and failed
    fetches) are written in one insert at the end; with all_clear, the open problems its keys name for
    the unchanged datasets are closed with that insert (their outcomes' `cleared`). A changed payload is
    loaded under the lock, after checking there that nothing was loaded since the digests were read
    (else it is fetched again under the lock), so that two runs never load the same dataset at once.

    The look-ahead writes nothing before its record unless its fetch outlasts FETCH_VISIBLE_AFTER_S: such
    a fetch is recorded as a 'running' run meanwhile (by a watcher thread), so that `kestava status` and
    the time limit see it and a process killed during it leaves a run closed later as interrupted; that
    run then gets the outcome (its payloads, changed or not, go through the locked path).

    A raw store that cannot be written fails the dataset (its run recorded 'failed', "storage failure:
    …"); with raise_storage_failure (the command line's) the first such failure is raised
    (storage.rawstore.RawStoreError) once all datasets are done and recorded. A payload the parser, the
    shape checks or the completeness check refuses is kept as a rejected snapshot
    (ingest.acceptance.keep_refused), as a plausibility one is, and so is an HTML page the fetcher refuses
    (ingest.errors.HtmlPageError carries it, its secrets masked), under the dataset's lock.
    """
    catalogue = catalogue or load_catalogue()
    specs = [catalogue.dataset(d) for d in dataset_ids] if dataset_ids else list(catalogue.datasets.values())
    manifest = None
    if offline:
        folder = snapshot_dir or DEFAULT_SNAPSHOT_DIR
        manifest = snapshot_manifest(folder)  # read again only when changed; its index shared by the fetcher
        specs = [offline_spec(spec, folder, manifest=manifest) for spec in specs]
    specs = [configured_spec(spec) for spec in specs]
    fetcher = fetcher or make_fetcher(
        engine, raw_store, offline=offline, snapshot_dir=snapshot_dir, manifest=manifest
    )
    outcomes: list[DatasetOutcome] = []
    finished: list[dict[str, object]] = []
    # one autocommit connection (no transaction held between statements) for the reads here and the
    # records at the end: one checkout for both, unless a load comes between. On PostgreSQL it is not
    # pinged first: when the server dropped it (a restart since the last run), the reads run once more on
    # a new one, and the records (_record) too
    names = [f"ingest:{spec.id}" for spec in specs]

    def reads() -> tuple[Connection, set[str], dict[str, str], str | None]:
        conn = autocommit(engine, ping=False)
        try:
            return conn, *held_locks_digests_and_namespace(conn, names, [spec.id for spec in specs])
        except BaseException:
            conn.close()
            raise

    kept: Connection | None = None
    try:
        known = _KNOWN.get(engine)
        if len(specs) == 1 and known is not None and specs[0].id in known.digests:
            if on_dataset:
                on_dataset(specs[0].id)
            quick = _on_known_digest(
                engine, catalogue, specs[0], fetcher, raw_store, trigger, all_clear, known
            )
            if quick is not None:
                if on_done:
                    on_done(quick)
                _raise_storage_failure([quick], raise_storage_failure)
                return [quick]
            on_dataset = None  # announced already: the dataset is read and fetched afresh below
        kept, held, digests, namespace = once_more(reads)
        known = _KNOWN.setdefault(engine, _Known(namespace, {}))
        known.namespace = namespace
        for spec in specs:  # read before the fetches below: good for the next run's fetch too
            if spec.id in digests:
                known.digests[spec.id] = digests[spec.id]
            else:
                known.digests.pop(spec.id, None)
        for spec in specs:
            if on_dataset:
                on_dataset(spec.id)
            started, started_at = time.monotonic(), now_utc()
            ahead: DatasetOutcome | _Prefetched | None = None
            if f"ingest:{spec.id}" not in held:
                ahead = _look_ahead(
                    engine,
                    spec,
                    raw_store,
                    fetcher,
                    trigger,
                    started,
                    started_at,
                    digests.get(spec.id),
                    finished,
                )
            if isinstance(ahead, DatasetOutcome):
                outcome = ahead
            else:
                if kept is not None:  # a load may take long: its connection back to the pool meanwhile
                    kept.close()
                    kept = None
                known.digests.pop(spec.id, None)  # a load may change it: read again next time
                outcome = _ingest_with_lock(
                    engine, catalogue, spec, fetcher, raw_store, trigger, started, started_at, ahead
                )
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    finally:
        try:
            cleared = _record(engine, kept, finished, all_clear)
        finally:
            if kept is not None:
                kept.close()
            close = getattr(fetcher, "close", None)
            if close is not None:
                close()
    _raise_storage_failure(outcomes, raise_storage_failure)
    if all_clear is None:
        return outcomes
    return [replace(o, cleared=cleared[o.dataset_id]) if o.dataset_id in cleared else o for o in outcomes]


def _raise_storage_failure(outcomes: Sequence[DatasetOutcome], wanted: bool) -> None:
    """When wanted (the command line: exit 2, an output that cannot be written), once every dataset's run
    is recorded, raise the first storage failure (RawStoreError); the scheduler gets the failed outcomes,
    retried and alerted as any failure."""
    if not wanted:
        return
    for outcome in outcomes:
        if outcome.storage_error is not None:
            raise outcome.storage_error


def _on_known_digest(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    fetcher: Fetcher,
    raw_store: RawStore,
    trigger: str,
    all_clear: AllClear | None,
    known: _Known,
) -> DatasetOutcome | None:
    """An ingest of one dataset whose newest digest this process knows (read before an earlier fetch, so
    before this one): fetch without reading first. An unchanged payload is recorded in one statement that
    checks that the digest is still the newest and no run holds the dataset's lock, closing all_clear's
    problems with it (storage.locks.record_unchanged_if_current); when either is not so, nothing is
    written and None is returned: the caller reads and fetches afresh. A changed payload is loaded under
    the lock as the look-ahead's is (the digest it is checked against was read before its fetch), and a
    failed fetch is recorded (waiting for the disk). Unlike the full path the fetch is made even while
    another run holds the lock; its record then waits for the full path, which finds the run busy."""
    digest = known.digests[spec.id]
    started, started_at = time.monotonic(), now_utc()
    finished: list[dict[str, object]] = []
    ahead = _look_ahead(engine, spec, raw_store, fetcher, trigger, started, started_at, digest, finished)
    if isinstance(ahead, _Prefetched):
        known.digests.pop(spec.id, None)  # a load may change it: read again next time
        return _ingest_with_lock(
            engine, catalogue, spec, fetcher, raw_store, trigger, started, started_at, ahead
        )
    if ahead.outcome != "unchanged":
        _record(engine, None, finished, None)
        return ahead
    keys = list(all_clear.keys(spec.id)) if all_clear is not None else []
    closed_at = all_clear.clock() if all_clear is not None else now_utc()

    def record() -> list[ClosedProblem] | None:
        with autocommit(engine, ping=False) as conn:
            return record_unchanged_if_current(
                conn,
                finished[0],
                digest=digest,
                lock=f"ingest:{spec.id}",
                namespace=known.namespace,
                close=keys,
                closed_at=closed_at,
            )

    closed = once_more(record)
    if closed is None:  # loaded meanwhile, or a run holds the lock
        known.digests.pop(spec.id, None)
        return None
    return replace(ahead, cleared=tuple(closed)) if keys else ahead


def _record(
    engine: Engine, kept: Connection | None, finished: list[dict[str, object]], all_clear: AllClear | None
) -> dict[str, tuple[ClosedProblem, ...]]:
    """Write the look-ahead's runs, closing all_clear's problems of the unchanged ones; dataset id -> closed.

    On the kept connection when there is one: if the database went away since it was checked out (a
    restart during a long fetch), once more on a fresh one of engine (pinged). Runs that are all 'unchanged'
    (a record of a run that loaded nothing, on every firing) commit without waiting for the disk on
    PostgreSQL (storage.jobs.record_runs' durable=False); a failed fetch's record waits for it."""
    if not finished:
        return {}
    unchanged = [str(row["dataset_id"]) for row in finished if row["outcome"] == "unchanged"]
    durable = len(unchanged) < len(finished)
    if all_clear is None or not unchanged:
        keys: dict[str, str] = {}
        closed_at = None
    else:
        keys = {key: dataset for dataset in unchanged for key in all_clear.keys(dataset)}
        closed_at = all_clear.clock()
    try:
        closed = record_runs(kept or engine, finished, close=list(keys), closed_at=closed_at, durable=durable)
    except DBAPIError as error:
        if kept is None or not error.connection_invalidated:
            raise
        closed = record_runs(engine, finished, close=list(keys), closed_at=closed_at, durable=durable)
    by_dataset: dict[str, tuple[ClosedProblem, ...]] = dict.fromkeys(unchanged, ()) if keys else {}
    for problem in closed:
        by_dataset[keys[problem.key]] += (problem,)
    return by_dataset
