"""Load files: converted rows spooled to local disk (the statement path), and the Parquet files a bulk
load stages in a volume."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from target_databricks.sql import Column, SqlBuildError, quote_identifier, string_literal


def volume_dir(catalog: str, schema: str, volume: str, *parts: str) -> str:
    """``/Volumes/<catalog>/<schema>/<volume>/<parts...>`` (no trailing slash)."""
    for part in (catalog, schema, volume, *parts):
        if not part or "/" in part or part in (".", ".."):
            raise SqlBuildError(f"bad volume path part {part!r}")
    return "/".join(("/Volumes", catalog, schema, volume, *parts))


_file_encoder = msgspec.json.Encoder()


def row_line(row: Sequence[str | None], omit: Iterable[int] = ()) -> bytes:
    """One converted row as a JSON object line: ``{"c0": "text" | null, ...}`` plus a newline.

    Columns in ``omit`` (the batch-constant ones, added later with ``constants_suffix``) are left out.
    """
    skip = set(omit)
    return _file_encoder.encode({f"c{i}": v for i, v in enumerate(row) if i not in skip}) + b"\n"


def constants_suffix(constants: Mapping[int, str | None]) -> bytes:
    """The ``,"cN": value`` members that complete a ``row_line`` with the batch-constant columns."""
    if not constants:
        return b""
    return b"," + _file_encoder.encode({f"c{i}": v for i, v in sorted(constants.items())})[1:-1]


def complete_line(line: bytes, suffix: bytes) -> bytes:
    """A ``row_line`` with the ``constants_suffix`` members inserted before its closing brace."""
    if not suffix:
        return line
    if line.endswith(b"{}\n"):
        return b"{" + suffix[1:] + b"}\n"
    return line[:-2] + suffix + b"}\n"


def parse_row_line(line: bytes, width: int) -> list[str | None]:
    """A ``row_line`` (possibly completed) back as a row of ``width`` values; missing keys are NULL."""
    members = msgspec.json.decode(line)
    return [members.get(f"c{i}") for i in range(width)]


# --- Parquet files (the bulk path) ---------------------------------------------------------------

#: Room for a Parquet file's footer and page headers beyond its row groups' compressed data.
_PARQUET_SLACK = 64 * 1024
PARQUET_COMPRESSION = "snappy"


def bulk_parquet_source(
    columns: Sequence[Column], path: str, constants: Mapping[int, str | None] | None = None
) -> str:
    """``SELECT CAST(c0 AS type) AS `name`, ... FROM read_files('<path>', format => 'parquet')``.

    Staged Parquet files name their columns by position (``c0``, ``c1``...), so hostile column names
    never reach a file; each column already has the Arrow type of its table column (``values.arrow_type``:
    exact decimals, UTC timestamps), and the CASTs keep the table's types whatever a reader infers.
    The columns at the positions of ``constants`` (the batch's load token and time, the same for every
    row) are not in the files: they are these texts as literals, cast the same way.
    """
    constants = constants or {}
    projections = ", ".join(
        f"CAST({_constant(constants[i]) if i in constants else f'c{i}'} AS {c.sql_type}) "
        f"AS {quote_identifier(c.name)}"
        for i, c in enumerate(columns)
    )
    return f"SELECT {projections} FROM read_files({string_literal(path)}, format => 'parquet')"


def _constant(text: str | None) -> str:
    return "NULL" if text is None else string_literal(text)


def _estimated_bytes(table: pa.Table) -> int:
    return int(table.get_total_buffer_size())


def parquet_parts(tables: Iterable[pa.Table], max_bytes: int, estimate_ratio: float = 1.0) -> Iterator[bytes]:
    """Parquet file bodies holding the rows of ``tables`` in order, each at most about ``max_bytes``.

    Each table is a row group unless it would not fit a file; then it is cut in halves until the parts
    fit (a single row that does not fit is a file of its own). ``estimate_ratio`` is the compressed size
    of a row group over its Arrow buffers, as the local spool saw it; files are cut on that estimate, with
    room for the footer. One file's bytes are held in memory at a time.
    """
    # Each file is written to local disk and read back whole: its bytes are held once, not also in a
    # growing in-memory stream.
    sink: IO[bytes] | None = None
    writer: pq.ParquetWriter | None = None

    def pieces(table: pa.Table) -> Iterator[pa.Table]:
        size = _estimated_bytes(table) * estimate_ratio
        if size + _PARQUET_SLACK <= max_bytes or table.num_rows <= 1:
            yield table
            return
        half = table.num_rows // 2
        yield from pieces(table.slice(0, half))
        yield from pieces(table.slice(half))

    def body() -> bytes:
        assert writer is not None and sink is not None
        writer.close()
        sink.seek(0)
        data = sink.read()
        sink.close()
        return data

    for table in tables:
        for piece in pieces(table):
            if not piece.num_rows:
                continue
            size = int(_estimated_bytes(piece) * estimate_ratio)
            if writer is not None and sink is not None and sink.tell() + size + _PARQUET_SLACK > max_bytes:
                yield body()
                writer, sink = None, None
            if writer is None:
                sink = tempfile.TemporaryFile(prefix="tdbx-part-")  # noqa: SIM115 - closed in body()
                writer = pq.ParquetWriter(sink, piece.schema, compression=PARQUET_COMPRESSION)
            writer.write_table(piece, row_group_size=max(piece.num_rows, 1))
    if writer is not None:
        yield body()
