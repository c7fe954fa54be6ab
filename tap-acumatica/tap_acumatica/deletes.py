"""``detect_deletes``: records deleted in Acumatica, emitted as tombstones with ``_sdc_deleted_at``.

Acumatica's REST API has no deleted-records query, so deletions are found by reconciling keys:
each run reads every key of the entity (``$select`` of the key fields, key order, keyset
paging, ``detect_deletes_page_size`` keys per request), and every key the previous run saw that
is gone now is emitted as a record holding only its keys and ``_sdc_deleted_at`` (the time of
the read, UTC). Loaders that upsert on the keys then mark the row: target-databricks sets
``_sdc_deleted_at`` and keeps the row's other values; SDK and pipelinewise loaders with
``hard_delete`` off (target-snowflake, target-duckdb) and target-bigquery land the record with
the column set (an upserting loader replaces the row's other values with the tombstone's empty
ones).

Where the previous key set lives. Not in the state: a million keys would make every STATE
message megabytes long. Each run's key set is a sorted file in ``detect_deletes_dir``, named by
its SHA-256; the stream's state holds only ``{"keys_sha256": ..., "keys": <count>}``. A run
reads the file its input state names (and checks its hash), writes the new one, keeps both,
and removes the stream's older files. A run whose STATE never landed leaves the previous file
in place, so the next run reconciles against it again: tombstones may repeat, never go
missing. A file the state names but that is gone or altered stops the run with a message.

Why keys are read before the stream's records. The run's upper time bound is fixed first (the
instance's clock at start); every record the run then emits was changed before that bound and
still existed when it was read, so it is in this run's key set. Hence a record emitted now and
deleted later is always in the key set the next run compares with.

The ``ACTIVATE_VERSION`` alternative (emit the whole key set as a versioned snapshot and let the
loader mark rows the version lacks) keeps no keys in the tap at all, but the SDK loaders apply it
through ``_sdc_table_version``, which only rows emitted in that version carry: on an incremental
table it would mark every row not changed since the last run as deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from acumatica_client import odata
from mlc_run_audit.checks import SettingError

DELETED_AT = "_sdc_deleted_at"
#: Keys per request of the key read: a key-only row is a few dozen bytes.
DEFAULT_KEY_PAGE_SIZE = 5000
DEFAULT_DIR = ".meltano/run/tap-acumatica/deletes"
STATE_KEY = "deletes"

Record = dict[str, Any]


def streams_with_deletes(config: Mapping[str, Any], stream_names: Sequence[str]) -> frozenset[str]:
    """The streams named in ``detect_deletes``; unknown names are a setting error."""
    wanted = list(config.get("detect_deletes") or [])
    unknown = sorted(set(wanted) - set(stream_names))
    if unknown:
        msg = (
            f"Setting detect_deletes names unknown streams {unknown}; streams are: {', '.join(stream_names)}."
        )
        raise SettingError(msg)
    return frozenset(wanted)


def with_deleted_at(schema: dict[str, Any]) -> dict[str, Any]:
    """The stream's schema with the ``_sdc_deleted_at`` column tombstones fill."""
    properties = {
        **schema.get("properties", {}),
        DELETED_AT: {"type": ["string", "null"], "format": "date-time"},
    }
    return {**schema, "properties": properties}


class KeyReconciler:
    """One stream's key read and comparison with the previous run's key set.

    ``fetch(params)`` sends one GET of the entity with those query parameters and returns the
    decoded rows (wrapped values, as the API answers)."""

    def __init__(
        self,
        *,
        stream: str,
        keys: Sequence[str],
        fetch: Callable[[dict[str, Any]], list[dict[str, Any]]],
        page_size: int,
        directory: Path,
        state: Mapping[str, Any] | None,
    ) -> None:
        self.stream = stream
        self.keys = list(keys)
        self.fetch = fetch
        self.page_size = page_size
        self.directory = directory
        self.previous = dict(state) if state else None
        self.requests = 0
        self.deleted = 0
        self.new_state: dict[str, Any] | None = None

    def tombstones(self) -> Iterator[Record]:
        """A record per key of the previous key set that the instance no longer has. Call
        :meth:`state` once they have all been emitted."""
        deleted_at = datetime.now(tz=UTC).isoformat(timespec="microseconds")
        current = sorted(self._read_keys())
        self.directory.mkdir(parents=True, exist_ok=True)
        digest, path = self._write(current)
        gone: list[str] = []
        if self.previous is not None:
            gone = self._gone(current)
        self.new_state = {"keys_sha256": digest, "keys": len(current)}
        kept = {path}
        if self.previous is not None:
            kept.add(self._path(str(self.previous.get("keys_sha256", ""))))
        self._prune(kept)
        self.deleted = len(gone)
        for line in gone:
            values = json.loads(line)
            yield {**dict(zip(self.keys, values, strict=True)), DELETED_AT: deleted_at}

    def _read_keys(self) -> Iterator[str]:
        """Every key of the entity as a JSON array line, paged in the server's key order."""
        cursor: list[Any] | None = None
        while True:
            params: dict[str, Any] = {"$top": self.page_size, "$select": ",".join(self.keys)}
            if cursor is not None:
                params["$filter"] = odata.after(self.keys, cursor)
            rows = self.fetch(params)
            self.requests += 1
            for row in rows:
                values = [_value(row, k) for k in self.keys]
                if any(v is None for v in values):
                    msg = (
                        f"Stream {self.stream}: detect_deletes read a record ({row.get('id')}) without "
                        f"its key {self.keys}; check the stream's key_properties."
                    )
                    raise ValueError(msg)
                yield json.dumps(values, separators=(",", ":"), ensure_ascii=False)
                cursor = values
            if len(rows) < self.page_size:
                return

    def _path(self, digest: str) -> Path:
        return self.directory / f"{self.stream}-{digest}.keys"

    def _write(self, lines: list[str]) -> tuple[str, Path]:
        sha = hashlib.sha256()
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{self.stream}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for line in lines:
                    data = line + "\n"
                    sha.update(data.encode())
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            path = self._path(sha.hexdigest())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha.hexdigest(), path

    def _gone(self, current: list[str]) -> list[str]:
        """Lines of the previous key set missing from ``current`` (both sorted), after checking
        that the previous file is the one the state names."""
        assert self.previous is not None
        digest = str(self.previous.get("keys_sha256", ""))
        path = self._path(digest)
        advice = (
            f"Point detect_deletes_dir at the directory of the previous runs, or start a new baseline by "
            f"removing '{STATE_KEY}' from stream {self.stream}'s state (meltano state edit); deletions "
            "made before that run are then not marked."
        )
        if not path.is_file():
            msg = f"Stream {self.stream}: detect_deletes needs the previous key set {path}; it is missing. "
            raise FileNotFoundError(msg + advice)
        sha = hashlib.sha256()
        gone: list[str] = []
        index = 0
        with path.open(encoding="utf-8") as previous:
            for data in previous:
                sha.update(data.encode())
                line = data.rstrip("\n")
                while index < len(current) and current[index] < line:
                    index += 1
                if index >= len(current) or current[index] != line:
                    gone.append(line)
        if sha.hexdigest() != digest:
            msg = f"Stream {self.stream}: the key set {path} does not match its hash in the state. "
            raise ValueError(msg + advice)
        return gone

    def _prune(self, keep: set[Path]) -> None:
        for path in self.directory.glob(f"{self.stream}-*.keys"):
            if path not in keep:
                path.unlink(missing_ok=True)


def _value(row: Mapping[str, Any], field: str) -> Any:
    wrapped = row.get(field)
    return wrapped.get("value") if isinstance(wrapped, dict) else wrapped
