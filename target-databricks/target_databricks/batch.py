"""A batch on its way to the warehouse, kept on local disk rather than in memory.

``StagedBatch`` converts each record as it arrives into its row of parameter texts (the same
conversion and checks as for statement parameters) and appends it to a temporary file, while the
load token, the replication bounds and the latest row per key are updated. At drain time the rows
are read back once, either into statements (small batches) or into compressed files for the volume,
so memory does not grow with the batch size.

``InputSpool`` keeps the SCHEMA and RECORD messages of a batch exactly as they were received, so
that a batch that fails can be written out as a Singer file and piped into the target again.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from singer_sdk.helpers._batch import StorageTarget

from target_databricks import audit, sql, staging, values
from target_databricks.cli_errors import ConnectorError
from target_databricks.sql import Column

_message_encoder = msgspec.json.Encoder(decimal_format="number")  # numbers stay exactly as received

#: Write buffer of a batch's spool files (converted rows, RECORD lines as received): many small writes
#: reach the disk as a few large ones.
SPOOL_BUFFER_BYTES = 1024 * 1024

#: Records converted to Arrow columns at a time on the bulk path (they are held until then).
CHUNK_ROWS = 2000

#: Columns whose value is the same for every row of a batch; they are added when the batch is drained.
BATCH_CONSTANT_COLUMNS = ("_sdc_batched_at", sql.LOAD_TOKEN_COLUMN)


def encode_message(message: Mapping[str, Any]) -> bytes:
    """A Singer message as one JSON line."""
    return _message_encoder.encode(message) + b"\n"


class Bounds:
    """Smallest and largest value seen; values that do not compare with each other compare as text."""

    def __init__(self) -> None:
        self.low: Any = None
        self.high: Any = None
        self._as_text = False

    def add(self, value: Any) -> None:
        if value is None:
            return
        if self._as_text:
            value = str(value)
        if self.low is None:
            self.low = self.high = value
            return
        try:
            if value < self.low:
                self.low = value
            if value > self.high:
                self.high = value
        except TypeError:
            self._as_text = True
            self.low, self.high = min(str(self.low), str(value)), max(str(self.high), str(value))

    def texts(self) -> tuple[str | None, str | None]:
        return _bound_text(self.low), _bound_text(self.high)


def _bound_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        try:
            return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        except OverflowError:  # past year 9999 in UTC: the value as written
            return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class StagedBatch:
    """The converted rows of one batch in a temporary file, with what the load needs to know about them."""

    def __init__(
        self,
        stream_name: str,
        columns: Sequence[Column],
        key_properties: Sequence[str] | None,
        replication_key: str | None,
    ) -> None:
        self.columns = list(columns)
        self.key_properties = list(key_properties or [])
        self.replication_key = replication_key
        names = [c.name for c in self.columns]
        self.constant_positions = {n: names.index(n) for n in BATCH_CONSTANT_COLUMNS if n in names}
        self._omit = tuple(self.constant_positions.values())
        self._token = audit.LoadToken(stream_name)
        self._latest: dict[tuple[Any, ...], int] = {}  # key -> index of its last row (upsert only)
        self._file: IO[bytes] = tempfile.TemporaryFile(  # noqa: SIM115 - closed in close()
            prefix="tdbx-batch-", buffering=SPOOL_BUFFER_BYTES
        )
        self.received = 0
        self.bounds = Bounds()
        self.error: sql.SqlBuildError | None = None

    def add(self, record: Mapping[str, Any], line: bytes | None = None) -> None:
        """Convert and spool one record. A value that cannot be stored exactly fails the batch when it is
        drained (so the whole batch is kept for replay), not the record alone. ``line`` is the RECORD
        message's line when it stands for the record exactly (see ``audit.LoadToken``)."""
        self._note(record, line)
        if self.error is not None:
            self._file.write(b"{}\n")  # keeps row indexes aligned; the batch will not load
            return
        try:
            row = values.convert_row(record, self.columns)
        except sql.SqlBuildError as exc:
            self.error = exc
            self._file.write(b"{}\n")
            return
        self._file.write(staging.row_line(row, self._omit))

    def _note(self, record: Mapping[str, Any], line: bytes | None) -> None:
        """The load token, replication bounds and latest row per key, record by record."""
        if line is None:
            self._token.add(record)
        else:
            self._token.add_line(line)
        if self.replication_key:
            self.bounds.add(record.get(self.replication_key))
        if self.key_properties:
            self._latest[tuple(values.key_part(record.get(k)) for k in self.key_properties)] = self.received
        self.received += 1

    def finish(self) -> None:
        """Nothing left to convert: rows are converted as they arrive."""

    @property
    def inline_ready(self) -> bool:
        """Whether ``row_values`` can give the batch's rows (always: they are in the spool)."""
        return True

    @property
    def token(self) -> str:
        return self._token.hexdigest()

    @property
    def rows(self) -> int:
        """Rows to load: every record, or the last record per key when de-duplicating."""
        return len(self._latest) if self.key_properties else self.received

    def constants(self, batched_at: datetime, token: str) -> dict[int, str | None]:
        """Values of the batch-constant columns by column position."""
        by_name = {
            "_sdc_batched_at": values.parameter_value(batched_at, "TIMESTAMP"),
            sql.LOAD_TOKEN_COLUMN: token,
        }
        return {pos: by_name[name] for name, pos in self.constant_positions.items()}

    def lines(self, constants: Mapping[int, str | None]) -> Iterator[bytes]:
        """The rows to load as complete JSON lines (keys ``c0``...), in the order received.

        With key properties only the last record of each key is kept: MERGE rejects several source
        rows matching one target row, and the last record of a key is the newest state of that row.
        """
        suffix = staging.constants_suffix(constants)
        keep = set(self._latest.values()) if self.key_properties else None
        self._file.flush()
        self._file.seek(0)
        for index, line in enumerate(self._file):
            if keep is None or index in keep:
                yield staging.complete_line(line, suffix)
        self._file.seek(0, os.SEEK_END)

    def row_values(self, constants: Mapping[int, str | None]) -> list[list[str | None]]:
        """The rows to load as lists of parameter texts (for the statement path; small batches only)."""
        width = len(self.columns)
        return [staging.parse_row_line(line, width) for line in self.lines(constants)]

    def close(self) -> None:
        self._file.close()


class ParquetBatch(StagedBatch):
    """A batch for the bulk path: records converted a chunk at a time into Arrow columns, spooled to a
    local Parquet file, and written at drain time as the Parquet files the volume stages.

    The load token, replication bounds, latest row per key and the conversion checks are those of
    ``StagedBatch`` (the same values are refused with the same error, raised at drain time). The first
    ``inline_rows`` records are also held as received, so a batch that small can still load with one
    statement of parameters (``row_values``).
    """

    def __init__(
        self,
        stream_name: str,
        columns: Sequence[Column],
        key_properties: Sequence[str] | None,
        replication_key: str | None,
        inline_rows: int,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        super().__init__(stream_name, columns, key_properties, replication_key)
        self._positions = [i for i in range(len(self.columns)) if i not in self._omit]
        self._chunk: list[Mapping[str, Any]] = []
        self._chunk_rows = chunk_rows
        self._inline_rows = inline_rows
        self._held: list[Mapping[str, Any]] | None = []
        self._writer: pq.ParquetWriter | None = None
        self._ratio = 0.0  # compressed over Arrow buffer bytes, largest seen

    def add(self, record: Mapping[str, Any], line: bytes | None = None) -> None:
        self._note(record, line)
        if self.error is not None:
            return
        self._chunk.append(record)
        if self._held is not None:
            if len(self._held) < self._inline_rows:
                self._held.append(record)
            else:
                self._held = None
        if len(self._chunk) >= self._chunk_rows:
            self._spool_chunk()

    def _spool_chunk(self) -> None:
        chunk, self._chunk = self._chunk, []
        if not chunk or self.error is not None:
            return
        try:
            rows = values.arrow_record_batch(chunk, self.columns, self._positions)
        except sql.SqlBuildError as exc:
            self.error = exc
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._file, rows.schema, compression=staging.PARQUET_COMPRESSION)
        before = self._file.tell()
        self._writer.write_batch(rows, row_group_size=max(rows.num_rows, 1))
        written = self._file.tell() - before
        self._ratio = max(self._ratio, written / max(rows.get_total_buffer_size(), 1))

    def finish(self) -> None:
        """Convert and spool the last records (a conversion error is then in ``error``)."""
        self._spool_chunk()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    @property
    def inline_ready(self) -> bool:
        """Whether the batch's records are held, so ``row_values`` can give its rows."""
        return self._held is not None

    def row_values(self, constants: Mapping[int, str | None]) -> list[list[str | None]]:
        if self._held is None:
            raise RuntimeError("the records of a batch this large are not held in memory")
        keep = set(self._latest.values()) if self.key_properties else None
        rows = []
        for index, record in enumerate(self._held):
            if keep is None or index in keep:
                row = values.convert_row(record, self.columns)
                for position, value in constants.items():
                    row[position] = value
                rows.append(row)
        return rows

    def spooled_file(self, max_bytes: int) -> bytes | None:
        """The local Parquet spool itself, when it can be staged as it is: every row is to load (no key
        repeats), and it is no larger than ``max_bytes``. Its columns are all but the batch constants,
        which the statement then gives (``staging.bulk_parquet_source``). None otherwise."""
        self.finish()
        if self.error is not None or (self.key_properties and len(self._latest) != self.received):
            return None
        self._file.flush()
        size = self._file.seek(0, os.SEEK_END)
        if not size or size > max_bytes:
            return None
        self._file.seek(0)
        body = self._file.read()
        self._file.seek(0, os.SEEK_END)
        return body

    def parquet_files(self, constants: Mapping[int, str | None], max_bytes: int) -> Iterator[bytes]:
        """The rows to load as Parquet file bodies of about ``max_bytes`` at most, in the order received,
        with the batch-constant columns; with key properties only the last record of each key."""
        self.finish()
        keep = set(self._latest.values()) if self.key_properties else None
        fixed = {
            position: pa.scalar(
                None if text is None else values.arrow_value(text, self.columns[position]),
                values.arrow_type(self.columns[position].sql_type),
            )
            for position, text in constants.items()
        }
        self._file.flush()
        self._file.seek(0)

        def tables() -> Iterator[pa.Table]:
            if not self._file.read(1):
                return
            self._file.seek(0)
            spooled = pq.ParquetFile(self._file)
            offset = 0
            for group in range(spooled.num_row_groups):
                table = spooled.read_row_group(group)
                if keep is not None:
                    mask = [offset + i in keep for i in range(table.num_rows)]
                    offset += table.num_rows
                    table = table.filter(pa.array(mask, pa.bool_()))
                for position, scalar in sorted(fixed.items()):
                    table = table.append_column(f"c{position}", pa.repeat(scalar, table.num_rows))
                yield table

        ratio = self._ratio or 1.0
        yield from staging.parquet_parts(tables(), max_bytes, ratio)
        self._file.seek(0, os.SEEK_END)


class InputSpool:
    """SCHEMA and RECORD messages as received, in a temporary file; written out when their load fails."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(  # noqa: SIM115 - closed in close()
            prefix="tdbx-input-", buffering=SPOOL_BUFFER_BYTES
        )
        self._last_schema: bytes | None = None
        self.records = 0

    def add(self, schema_line: bytes, record_line: bytes) -> None:
        if schema_line is not self._last_schema:
            self._file.write(schema_line)
            self._last_schema = schema_line
        self._file.write(record_line)
        self.records += 1

    def keep(self, directory: Path, name: str) -> Path:
        """Write the messages to ``directory/name`` (created if missing); returns the file's path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        partial = directory / f".{name}.partial"
        self._file.flush()
        self._file.seek(0)
        with partial.open("wb") as out:
            while chunk := self._file.read(1024 * 1024):
                out.write(chunk)
        partial.replace(path)
        self._file.seek(0, os.SEEK_END)
        return path.resolve()

    def close(self) -> None:
        self._file.close()


# --- BATCH messages (the SDK's batch manifests) ---------------------------------------------------

#: Encodings of the SDK's BATCH messages that this target reads: format -> compressions.
BATCH_ENCODINGS = {"jsonl": (None, "none", "gzip"), "parquet": (None, "none", "gzip", "snappy", "zstd")}
_record_decoder = msgspec.json.Decoder(float_hook=Decimal)  # numbers stay exact, as for RECORD messages


class BatchFileError(ConnectorError, ValueError):
    """A BATCH message, or one of its files, that this target cannot read (logged as one line)."""


def check_batch_encoding(stream: str, encoding: Any) -> tuple[str, str | None]:
    """The (format, compression) of a BATCH message, refused by name when this target cannot read it."""
    if not isinstance(encoding, Mapping):
        raise BatchFileError(f"BATCH message of stream {stream!r} has no encoding object")
    fmt, compression = encoding.get("format"), encoding.get("compression")
    if fmt not in BATCH_ENCODINGS or compression not in BATCH_ENCODINGS[fmt]:
        raise BatchFileError(
            f"BATCH message of stream {stream!r} uses format {fmt!r} with compression {compression!r}; "
            "target-databricks reads jsonl (plain or gzip) and parquet. Set the tap's batch_config "
            "encoding to one of these, or run the tap without batch_config."
        )
    return fmt, compression


def batch_file_records(url: str, fmt: str, compression: str | None) -> Iterator[dict[str, Any]]:
    """The records of one file of a BATCH manifest, one at a time, as RECORD messages would carry them.

    Files are opened through the SDK's storage helper (``file://`` and the fsspec protocols it knows).
    JSONL lines decode with exact decimals. Parquet values are turned back into JSON values: timestamps
    and dates as ISO 8601 text, decimals stay ``Decimal``.
    """
    head, tail = StorageTarget.split_url(url)
    try:
        with StorageTarget.from_url(head).open(tail, mode="rb") as raw:
            if fmt == "jsonl":
                yield from _jsonl_records(raw, compression == "gzip", url)
            else:
                import pyarrow.parquet as pq  # only needed for parquet batches

                for chunk in pq.ParquetFile(raw).iter_batches(batch_size=1000):
                    for record in chunk.to_pylist():
                        yield {k: _json_value(v) for k, v in record.items()}
    except BatchFileError:
        raise
    except (OSError, EOFError, zlib.error, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise BatchFileError(
            f"cannot read batch file {url} ({fmt}, {compression or 'no compression'}): {exc}"
        ) from None


def _jsonl_records(raw: IO[bytes], gzipped: bool, url: str) -> Iterator[dict[str, Any]]:
    with gzip.open(raw) if gzipped else contextlib.nullcontext(raw) as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = _record_decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise BatchFileError(f"line {number} of {url} is not a JSON object: {exc}") from None
            if not isinstance(record, dict):
                raise BatchFileError(f"line {number} of {url} is not a JSON object")
            yield record


def _json_value(value: Any) -> Any:
    """A value read from parquet as the JSON value a RECORD message would hold."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # not a JSON number: validation names it
    return value
