"""Run history in SQLite: every build, sweep point and parsed vendor report, queryable later.

One table, ``runs``, holds one row per record with its kind (``build``, ``sweep_point``
or ``report``), the figures worth querying as columns, and the whole summary (or parsed
report) as JSON, so nothing a build wrote is lost to the choice of columns.

Several builds may write at once: the database runs in WAL mode with a busy timeout,
and every write (migrations included) is one ``BEGIN IMMEDIATE`` transaction. The schema
version lives in ``PRAGMA user_version``; ``MIGRATIONS`` brings an older file forward on
open and ``schema_migrations`` records when each step ran. A file that is not an intact
SQLite database, or one that holds something other than a run history, is refused with
a one-line error and left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from fpga_flow.errors import UserInputError
from fpga_flow.figures import HardwareFigures, figures_of, hardware_figures
from fpga_flow.layers import RESOURCE_KEYS
from fpga_flow.summary import RunSummary, parse_summary

DB_ENV = "FPGA_FLOW_DB"
DB_NAME = "fpga_flow.db"
KINDS = ("build", "sweep_point", "report")
BUSY_TIMEOUT_MS = 60_000


def default_db_path(reports_dir: str | Path = "reports") -> Path:
    """``$FPGA_FLOW_DB`` if set, else ``fpga_flow.db`` in the reports folder (relative to the CWD)."""
    return Path(os.environ.get(DB_ENV) or Path(reports_dir) / DB_NAME)


# --------------------------------------------------------------------------- schema

# Columns every record has, in table order after the first migration's columns.
_FIGURE_COLUMNS = (
    ("created_utc", "TEXT"), ("part", "TEXT"), ("backend", "TEXT"), ("io_type", "TEXT"), ("strategy", "TEXT"),
    ("reuse_factor", "INTEGER"), ("clock_period_ns", "REAL"), ("precision_policy", "TEXT"),
    ("max_abs_error", "REAL"), ("figures_source", "TEXT"), ("tool", "TEXT"),
    ("lut", "INTEGER"), ("ff", "INTEGER"), ("dsp", "INTEGER"), ("bram_18k", "INTEGER"), ("uram", "INTEGER"),
    ("latency_cycles", "INTEGER"), ("latency_ns", "REAL"), ("interval_cycles", "INTEGER"), ("source_path", "TEXT"),
)


def _migrate_1(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            recorded_utc TEXT NOT NULL,
            model TEXT, board TEXT, status TEXT,
            csim_agreement REAL, testbench_agreement REAL, keras_accuracy REAL, csim_accuracy REAL,
            config_json TEXT, estimate_json TEXT, vendor_json TEXT, artifacts_json TEXT,
            summary_json TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX runs_model_board ON runs (model, board)")


def _migrate_2(db: sqlite3.Connection) -> None:
    for name, sql_type in _FIGURE_COLUMNS:
        db.execute(f"ALTER TABLE runs ADD COLUMN {name} {sql_type}")
    db.execute("CREATE INDEX runs_kind_recorded ON runs (kind, recorded_utc)")
    # Rows written by version 1 carry their whole summary: fill the new columns from it.
    for run_id, kind, summary_json in db.execute("SELECT run_id, kind, summary_json FROM runs").fetchall():
        document = json.loads(summary_json)
        columns = _report_columns(document["report"], document["source_path"]) if kind == "report" \
            else _summary_columns(parse_summary(document, f"run history record {run_id}"))
        names = [name for name, _ in _FIGURE_COLUMNS]
        db.execute(f"UPDATE runs SET {', '.join(f'{n} = ?' for n in names)} WHERE run_id = ?",
                   [columns.get(n) for n in names] + [run_id])


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS = (
    Migration(1, "runs table: identity, fidelity figures and JSON documents", _migrate_1),
    Migration(2, "figure columns (part, settings, resources, latency, source path) for queries", _migrate_2),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
_OUR_TABLES = {"runs", "schema_migrations"}


# --------------------------------------------------------------------------- rows


def _summary_columns(summary: RunSummary) -> dict[str, Any]:
    fidelity, hls = summary.fidelity, summary.hls
    return {
        "run_id": summary.run_id,
        "model": summary.model.name, "board": summary.board.name, "status": summary.status,
        "csim_agreement": fidelity.csim_agreement, "testbench_agreement": fidelity.testbench_agreement,
        "keras_accuracy": fidelity.keras_accuracy, "csim_accuracy": fidelity.csim_accuracy,
        "config_json": _dumps(summary.config.model_dump(mode="json")),
        "estimate_json": _dumps(summary.estimate.model_dump(mode="json")),
        "vendor_json": _dumps(summary.synthesis.report), "artifacts_json": _dumps(summary.artifacts),
        "summary_json": _dumps(summary.model_dump(mode="json")),
        "created_utc": summary.created_utc, "part": summary.board.part, "backend": summary.board.backend,
        "io_type": hls.io_type, "strategy": hls.strategy, "reuse_factor": hls.reuse_factor,
        "clock_period_ns": hls.clock_period_ns, "precision_policy": summary.precision.policy,
        "max_abs_error": fidelity.max_abs_error,
        **_figure_columns(hardware_figures(summary)),
        "source_path": summary.artifacts.get("summary"),
    }


def _report_columns(report: dict[str, Any], source_path: str) -> dict[str, Any]:
    figures = figures_of(report, None, None, None)
    return {
        "model": report.get("top"), "board": None, "status": None,
        "config_json": None, "estimate_json": None, "vendor_json": _dumps(report),
        "artifacts_json": _dumps({"report": source_path}),
        "summary_json": _dumps({"source_path": source_path, "report": report}),
        "part": report.get("part"), "clock_period_ns": report.get("target_clock_ns"),
        **_figure_columns(figures),
        "source_path": source_path,
    }


def _figure_columns(figures: HardwareFigures) -> dict[str, Any]:
    return {
        "figures_source": figures.source, "tool": figures.tool,
        **{key.lower(): figures.resources[key] for key in RESOURCE_KEYS},
        "latency_cycles": figures.latency_cycles, "latency_ns": figures.latency_ns,
        "interval_cycles": figures.interval_cycles,
    }


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


_JSON_COLUMNS = ("config_json", "estimate_json", "vendor_json", "artifacts_json", "summary_json")


def _record(row: sqlite3.Row) -> dict[str, Any]:
    """A row as a dict; JSON columns come back parsed under their names without ``_json``
    (``summary`` is the whole summary, or ``{"source_path", "report"}`` for a report)."""
    record = {}
    for key in row.keys():
        if key in _JSON_COLUMNS:
            record[key[: -len("_json")]] = None if row[key] is None else json.loads(row[key])
        else:
            record[key] = row[key]
    return record


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --------------------------------------------------------------------------- history


class HistoryBusyError(UserInputError):
    """Another process kept the run history locked for longer than the busy timeout."""


class RunHistory:
    """The run history at ``path`` (created with its parent folder when missing, unless
    ``create`` is False). Each call opens its own connection, so one object may be
    shared by threads and many processes may write the same file."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise UserInputError(
                    f"no run history at {self.path}: build something first, or give run directories or --db FILE")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise UserInputError(f"run history {self.path} is a folder: give a database file with --db or {DB_ENV}")
        self._retrying(self._open_schema)

    def _open_schema(self) -> None:
        # Checks only read, so a refused file is left byte for byte as it was.
        with self._transaction(write=False) as db:
            version = self._checked_version(db)
        if version < SCHEMA_VERSION:
            with self._transaction(write=True, wal=True) as db:
                self._migrate(db)

    def _retrying(self, action: Callable[[], Any]) -> Any:
        """Run ``action``, again while another process holds the file: SQLite reports some
        lock conflicts (switching to WAL, recovery) at once instead of waiting for them."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return action()
            except HistoryBusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        db.row_factory = sqlite3.Row
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise self._error(exc) from None
        return db

    def _error(self, exc: Exception) -> UserInputError:
        """The one-line error for an SQLite failure on this file."""
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            return HistoryBusyError(
                f"run history {self.path} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s: "
                "wait for the other build to finish and try again")
        return UserInputError(
            f"run history {self.path} is not a readable SQLite database ({exc}); it was left untouched: "
            f"move it aside, or give another file with --db or {DB_ENV}"
        )

    def _transaction(self, write: bool = True, wal: bool = False) -> "_Transaction":
        return _Transaction(self, write, wal)

    def _checked_version(self, db: sqlite3.Connection) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserInputError(
                f"run history {self.path} has schema version {version}, newer than this fpga-flow understands "
                f"({SCHEMA_VERSION}): upgrade fpga-flow, or give another file with --db")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and tables - _OUR_TABLES:
            raise UserInputError(
                f"{self.path} is an SQLite database but not an fpga-flow run history (it has tables "
                f"{', '.join(sorted(tables))}); it was left untouched: give another file with --db or {DB_ENV}")
        report = [line for row in db.execute("PRAGMA quick_check") for line in row[0].splitlines()]
        if report != ["ok"]:
            problems = [line.strip() for line in report if line.strip() and not line.startswith("***")]
            first = problems[0] if problems else "failed"
            raise self._error(sqlite3.DatabaseError(f"integrity check: {first}, {len(problems)} problem(s)"))
        return version

    def _migrate(self, db: sqlite3.Connection) -> None:
        # Read again under the write lock: another process may have migrated meanwhile.
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_utc TEXT NOT NULL)")
        for migration in MIGRATIONS:
            if migration.version > version:
                migration.apply(db)
                db.execute("INSERT OR REPLACE INTO schema_migrations VALUES (?, ?, ?)",
                           (migration.version, migration.description, _now()))
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        with self._transaction(write=False) as db:
            return db.execute("PRAGMA user_version").fetchone()[0]

    def migrations(self) -> list[dict[str, Any]]:
        """The schema steps applied to this file, oldest first."""
        with self._transaction(write=False) as db:
            return [dict(row) for row in db.execute("SELECT * FROM schema_migrations ORDER BY version")]

    def record_run(self, summary: RunSummary, kind: str = "build") -> str:
        """Record a build's (or sweep point's) summary; returns its run id. Recording the
        same run id again replaces the earlier record."""
        if kind not in KINDS[:2]:
            raise UserInputError(f"unknown run kind '{kind}': use one of {', '.join(KINDS[:2])}")
        columns = _summary_columns(summary)
        self._insert({**columns, "kind": kind})
        return columns["run_id"]

    def update_run(self, summary: RunSummary) -> bool:
        """Bring a recorded build's (or sweep point's) record up to date with its summary,
        which a later command (deploy) added a section to; the record keeps its kind and
        the time it was recorded. False when the run is not recorded here."""
        columns = _summary_columns(summary)
        run_id = columns.pop("run_id")
        sql = f"UPDATE runs SET {', '.join(f'{name} = ?' for name in columns)} WHERE run_id = ? AND kind != 'report'"

        def update() -> int:
            with self._transaction() as db:
                return db.execute(sql, [*columns.values(), run_id]).rowcount

        return self._retrying(update) > 0

    def record_report(self, report: dict[str, Any], source_path: str | Path) -> str:
        """Record a parsed vendor report (a BuildReport dict) read from ``source_path``;
        returns its id, which is the same for the same report from the same place."""
        source = str(Path(source_path).resolve())
        digest = hashlib.sha256((source + "\0" + _dumps(report)).encode()).hexdigest()[:16]
        run_id = f"report-{digest}"
        self._insert({**_report_columns(report, source), "run_id": run_id, "kind": "report"})
        return run_id

    def _insert(self, columns: dict[str, Any]) -> None:
        names = list(columns) + ["recorded_utc"]
        sql = f"INSERT OR REPLACE INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"

        def insert() -> None:
            with self._transaction() as db:
                db.execute(sql, [columns[n] for n in names[:-1]] + [_now()])

        self._retrying(insert)

    def runs(self, model: str | None = None, board: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Records, oldest first, optionally only those of one model, board or kind. Each
        record has the columns plus ``summary``, ``config``, ``estimate``, ``vendor`` and
        ``artifacts`` parsed from JSON."""
        clauses, args = [], []
        for column, value in (("model", model), ("board", board), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._transaction(write=False) as db:
            rows = db.execute(f"SELECT * FROM runs{where} ORDER BY recorded_utc, rowid", args).fetchall()
        return [_record(row) for row in rows]

    def summaries(self, model: str | None = None, board: str | None = None) -> list[RunSummary]:
        """The summaries of recorded builds and sweep points (not reports), oldest first;
        records of older summary versions are upgraded."""
        return [parse_summary(record["summary"], f"run history {self.path}, run '{record['run_id']}'")
                for record in self.runs(model, board) if record["kind"] != "report"]

    def get(self, run_id: str) -> dict[str, Any]:
        """One record by id; an unknown id is a user error naming it."""
        with self._transaction(write=False) as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UserInputError(f"no run '{run_id}' in the run history {self.path}: list runs with 'fpga-flow dashboard --db'")
        return _record(row)


class _Transaction:
    """One connection, one transaction: ``BEGIN IMMEDIATE`` for writes so concurrent
    writers queue on the busy timeout instead of failing mid-way; ``wal`` first switches
    the file to WAL journaling (kept by the file from then on). SQLite errors inside
    become the history's one-line error."""

    def __init__(self, history: RunHistory, write: bool, wal: bool):
        self.history, self.write, self.wal = history, write, wal

    def __enter__(self) -> sqlite3.Connection:
        self.db = self.history._connect()
        try:
            if self.wal:
                self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise self.history._error(exc) from None
        return self.db

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        except sqlite3.DatabaseError as end_error:
            if exc_type is None:
                raise self.history._error(end_error) from None
        finally:
            self.db.close()
        if exc_type is not None and issubclass(exc_type, sqlite3.DatabaseError):
            raise self.history._error(exc) from None
        return False
