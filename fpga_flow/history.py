"""Run history in SQLite: every build, sweep point and parsed report, queryable later.

WAL journaling and a busy timeout let several builds write at once; the schema version
lives in ``PRAGMA user_version`` and is migrated forward on open.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fpga_flow.errors import UserInputError

DB_ENV = "FPGA_FLOW_DB"
SCHEMA_VERSION = 1
MIGRATIONS = {
    1: """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            recorded_utc TEXT NOT NULL,
            model TEXT, board TEXT, status TEXT,
            csim_agreement REAL, testbench_agreement REAL, keras_accuracy REAL, csim_accuracy REAL,
            config_json TEXT, estimate_json TEXT, vendor_json TEXT, artifacts_json TEXT,
            summary_json TEXT NOT NULL
        );
        CREATE INDEX runs_model_board ON runs (model, board);
    """,
}


def default_db_path(reports_dir: str | Path = "reports") -> Path:
    return Path(os.environ.get(DB_ENV) or Path(reports_dir) / "fpga_flow.db")


class RunHistory:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as db:
                self._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise UserInputError(
                f"run history {self.path} is not a readable SQLite database ({exc}); it was left untouched: "
                f"move it aside or give another file with --db / {DB_ENV}"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA journal_mode = WAL")
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserInputError(f"run history {self.path} has schema {version}, newer than this fpga-flow ({SCHEMA_VERSION}): upgrade fpga-flow")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.executescript(MIGRATIONS[target])
            db.execute(f"PRAGMA user_version = {target}")

    def record_run(self, summary: dict[str, Any], kind: str = "build") -> str:
        synthesis = summary.get("synthesis") or {}
        row = (
            summary["run_id"], kind, datetime.now(timezone.utc).isoformat(timespec="seconds"),
            summary.get("model"), summary.get("board"), summary.get("status"),
            summary.get("csim_agreement"), summary.get("testbench_agreement"),
            summary.get("keras_accuracy"), summary.get("csim_accuracy"),
            json.dumps(summary.get("config")), json.dumps(summary.get("estimate")),
            json.dumps(synthesis.get("report")), json.dumps(summary.get("artifacts")),
            json.dumps(summary, default=str),
        )
        with self._connect() as db:
            db.execute(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(row))})", row)
        return summary["run_id"]

    def runs(self, model: str | None = None, board: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT summary_json FROM runs WHERE 1=1", []
        if model:
            query, args = query + " AND model = ?", [*args, model]
        if board:
            query, args = query + " AND board = ?", [*args, board]
        with self._connect() as db:
            return [json.loads(row[0]) for row in db.execute(query + " ORDER BY recorded_utc", args)]
