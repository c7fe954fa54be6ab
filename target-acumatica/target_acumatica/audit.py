"""The audit trail of a run: one JSON line per journal or record, the runs that sent them, and failed
input kept for replay.

``<audit_dir>/journals.jsonl`` gets a line for every journal posted, already posted, failed or
(dry run) planned, and for every reference record written or skipped: this run's id, stream, natural
key, Acumatica BatchNbr or key, status, rows, totals, the SHA-256 of the source rows (audit fields left
out, so the same rows hash the same in every run), the runs that extracted them (``source_run_ids``,
from the rows' ``_audit_run_id``) and the error.

``<audit_dir>/runs.jsonl`` gets each record of the ``_audit_runs`` stream a tap sends (one per tap
run: its id, tap, times, status, streams and state) with this run's id as ``target_run_id``.

A journal that fails keeps its input: ``<audit_dir>/failed/<stream>-<time>.singer`` holds the
stream's SCHEMA message and the failed journals' RECORD messages as received. Piping it back in
(``target-acumatica --config config.json < file``) posts what is missing and nothing twice, since
every journal is looked up by its natural key first.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from mlc_run_audit import RUN_ID_COLUMN

_encoder = msgspec.json.Encoder(decimal_format="number")


def _stamp() -> str:
    return datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%S%fZ")


def source_run_ids(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct ``_audit_run_id`` values of the rows, sorted."""
    return sorted({str(r[RUN_ID_COLUMN]) for r in rows if r.get(RUN_ID_COLUMN) is not None})


class AuditLog:
    """Appends outcome lines to ``journals.jsonl`` and run records to ``runs.jsonl``; failed rows go to
    per-stream Singer files."""

    def __init__(self, directory: str | Path, run_id: str) -> None:
        self.directory = Path(directory)
        self.run_id = run_id
        self._lock = threading.Lock()
        self._failed_files: dict[str, Path] = {}
        self.entries: list[dict[str, Any]] = []

    @property
    def path(self) -> Path:
        return self.directory / "journals.jsonl"

    @property
    def runs_path(self) -> Path:
        return self.directory / "runs.jsonl"

    def record(self, sources: Iterable[dict[str, Any]] = (), **entry: Any) -> None:
        """One outcome line; ``sources`` are the source rows it is about."""
        line = {
            "run_id": self.run_id,
            "at": datetime.now(tz=UTC).isoformat(),
            **entry,
            "source_run_ids": source_run_ids(sources),
        }
        with self._lock:
            self.entries.append(line)
            self._append(self.path, line)

    def record_run(self, run: dict[str, Any]) -> None:
        """One record of a tap's ``_audit_runs`` stream, with this run's id as ``target_run_id``."""
        with self._lock:
            self._append(self.runs_path, {**run, "target_run_id": self.run_id})

    def _append(self, path: Path, line: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            f.write(_encoder.encode(line) + b"\n")

    def keep_failed(self, stream: str, schema_message: dict[str, Any], records: list[dict[str, Any]]) -> Path:
        """Append RECORD messages to this run's failed file of ``stream`` (created with its SCHEMA)."""
        with self._lock:
            path = self._failed_files.get(stream)
            fresh = path is None
            if path is None:
                folder = self.directory / "failed"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{_safe(stream)}-{_stamp()}.singer"
                self._failed_files[stream] = path
            with path.open("ab") as f:
                if fresh:
                    f.write(_encoder.encode(schema_message) + b"\n")
                for record in records:
                    f.write(_encoder.encode({"type": "RECORD", "stream": stream, "record": record}) + b"\n")
            return path

    def failed_files(self) -> list[Path]:
        return list(self._failed_files.values())


def replay_command(path: Path) -> str:
    return f"target-acumatica --config <config.json> < {shlex.quote(str(path))}"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "stream"
