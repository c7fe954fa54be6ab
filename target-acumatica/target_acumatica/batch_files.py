"""The records of a BATCH message: the Singer SDK's batch manifests, read the way its taps write them.

A BATCH message names files instead of carrying records:
``{"type": "BATCH", "stream": ..., "encoding": {"format": "jsonl", "compression": "gzip"}, "manifest":
["file:///.../batch-1.json.gz", ...]}``. Formats are the SDK's: ``jsonl`` (one JSON record per line,
``gzip`` or no compression) and ``parquet`` (needs ``pyarrow``). Files are opened with ``UPath``
(fsspec, as the SDK's ``StorageTarget`` does), so any URL the tap could write to can be read, with the
target's ``batch_config.storage.params`` (credentials) when it has one.
"""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from upath import UPath

from target_acumatica.mapping import MessageError

FORMATS = ("jsonl", "parquet")
COMPRESSIONS = (None, "none", "gzip")


def check_encoding(stream: str, encoding: Any) -> tuple[str, str | None]:
    """``(format, compression)`` of a BATCH message's encoding, or an error naming what is unsupported."""
    if not isinstance(encoding, dict):
        raise MessageError(f"BATCH message of stream {stream}: encoding must be an object, not {encoding!r}")
    fmt, compression = encoding.get("format"), encoding.get("compression")
    if fmt not in FORMATS:
        msg = (
            f"BATCH message of stream {stream}: format {fmt!r} is not supported (jsonl or parquet); set the "
            "tap's batch_config.encoding.format to one of them, or send RECORD messages"
        )
        raise MessageError(msg)
    if fmt == "jsonl" and compression not in COMPRESSIONS:
        msg = (
            f"BATCH message of stream {stream}: compression {compression!r} is not supported for jsonl "
            "(gzip or none)"
        )
        raise MessageError(msg)
    if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        msg = (
            f"BATCH message of stream {stream}: parquet files need pyarrow, which is not installed with "
            "target-acumatica; install it next to the target (pip_url: target-acumatica pyarrow) or use "
            "jsonl"
        )
        raise MessageError(msg)
    return fmt, None if compression == "none" else compression


def read_records(
    stream: str,
    encoding: Any,
    manifest: Any,
    decode: Callable[[bytes], dict[str, Any]],
    storage_params: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every record of every file of the manifest, in order. ``decode`` parses one JSON line (the same
    decoder as RECORD messages, so numbers stay exact decimals)."""
    fmt, compression = check_encoding(stream, encoding)
    if not isinstance(manifest, list) or not all(isinstance(u, str) for u in manifest):
        raise MessageError(f"BATCH message of stream {stream}: manifest must be a list of file URLs")
    for url in manifest:
        try:
            with UPath(url, **(storage_params or {})).open("rb") as file:
                if fmt == "parquet":
                    yield from _parquet(file)
                elif compression == "gzip":
                    with gzip.open(file) as lines:
                        yield from _jsonl(lines, decode)
                else:
                    yield from _jsonl(file, decode)
        except (OSError, EOFError) as exc:
            msg = f"BATCH message of stream {stream}: cannot read {url}: {exc}"
            raise MessageError(msg) from exc


def _jsonl(lines: Iterable[bytes], decode: Callable[[bytes], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            yield decode(line)


def _parquet(file: BinaryIO) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq  # only parquet batches need pyarrow

    yield from pq.read_table(file).to_pylist()
