"""The target's reader of Singer messages: msgspec over bytes, keeping each line as received.

The SDK's ``MsgSpecReader`` reads ``sys.stdin`` as text, so every line is decoded from UTF-8 into a
``str`` before msgspec parses it, and the target then encoded each RECORD message again for its
failed-batch file. This reader takes the bytes of standard input as they come, parses them with the
same decoder settings (numbers with a fraction or exponent become exact ``Decimal`` values), and keeps
the last line with the message parsed from it, so the failed-batch file holds the line itself.

A RECORD of a stream with a ``TypedRecordDecoder`` (registered by the target in ``record_decoders``)
is decoded by it into values already checked against the stream's SCHEMA; ``prevalidated`` tells the
target so. A record it cannot vouch for is decoded the general way.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import IO, Any, TypedDict, cast

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_databricks.typed_records import ENVELOPE_FIELDS, TypedRecordDecoder

logger = logging.getLogger(__name__)
_decoder = msgspec.json.Decoder(float_hook=Decimal)


#: A message's fields around its record, the record left undecoded.
_Envelope: Any = TypedDict("_Envelope", {**ENVELOPE_FIELDS, "record": msgspec.Raw}, total=False)  # type: ignore[misc]
_envelope_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(_Envelope)


class LineKeepingReader(GenericSingerReader[bytes]):
    """Parses Singer messages from bytes (or the text lines of ``--input``) and keeps the last line."""

    def __init__(self) -> None:
        super().__init__()
        self._last: tuple[dict[str, Any] | None, bytes] = (None, b"")
        self._prevalidated: dict[str, Any] | None = None
        #: The typed decoders of the streams whose records can be decoded checked, by stream name.
        self.record_decoders: dict[str, TypedRecordDecoder] = {}
        self._last_stream = ""  # the stream of the last record decoded typed

    @property
    def default_input(self) -> IO[bytes]:
        """Standard input's bytes. (A text stream without bytes in its place, such as a StringIO, gives
        str lines, which ``deserialize_json`` takes too.)"""
        return cast("IO[bytes]", getattr(sys.stdin, "buffer", sys.stdin))

    def process_lines(
        self, file_input: IO[bytes] | None, callbacks: dict[str, Callable[[dict[str, Any]], None]]
    ) -> Counter[str]:
        """Read the input with the cyclic garbage collector running seldom.

        Each record leaves a few dicts and lists behind, freed by reference counting; the collector,
        run every 700 allocations by default, found no cycles among them and took about 5% of a load's
        CPU. Objects of the start-up are frozen out of its scans, and it runs every 50,000 allocations
        (restored afterwards, for a caller running the target in its own process)."""
        thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        try:
            return super().process_lines(file_input, callbacks)
        finally:
            gc.set_threshold(*thresholds)
            if not frozen:  # a caller's own frozen objects stay frozen
                gc.unfreeze()

    def deserialize_json(self, line: bytes | str) -> dict[str, Any]:
        """The message of one line; a line that is not JSON fails as the SDK's reader fails it."""
        message = self._typed_record(line) if self.record_decoders else None
        self._prevalidated = message
        try:
            if message is None:
                message = _decoder.decode(line)
        except msgspec.DecodeError as exc:
            text = line.decode(errors="replace") if isinstance(line, bytes) else line
            logger.exception("Unable to parse:\n%s", text)
            raise InvalidInputLine(f"Unable to parse line as JSON: {text}") from exc
        self._last = (message, line if isinstance(line, bytes) else line.encode())
        return message

    def _typed_record(self, line: bytes | str) -> dict[str, Any] | None:
        """The RECORD message of ``line`` with its record decoded by its stream's typed decoder, or None
        (another message, a stream without a decoder, a record it does not vouch for).

        Records come in runs of one stream, so the line is first decoded whole as a record of the
        stream of the last typed record; only when it is not one is its envelope decoded on its own."""
        last = self.record_decoders.get(self._last_stream)
        if last is not None:
            message = last.decode_message(line, self._last_stream)
            if message is not None:
                return message
        try:
            envelope = _envelope_decoder.decode(line)
        except msgspec.DecodeError:
            return None
        if envelope.get("type") != "RECORD" or "record" not in envelope:
            return None
        stream = envelope.get("stream")
        decoder = self.record_decoders.get(stream) if isinstance(stream, str) else None
        record = None if decoder is None else decoder.decode(envelope["record"])
        if record is None:
            return None
        self._last_stream = cast("str", stream)  # a str: it named a decoder
        return {**envelope, "record": record}

    def prevalidated(self, message: dict[str, Any]) -> bool:
        """Whether ``message`` is the last one read and its record was checked by a typed decoder."""
        return message is self._prevalidated

    def line_of(self, message: dict[str, Any]) -> bytes | None:
        """The line ``message`` was parsed from, ending in a newline, when it is the last message this
        reader parsed (a record of a BATCH message's file was not read from a line)."""
        parsed, line = self._last
        if parsed is not message:
            return None
        return line if line.endswith(b"\n") else line + b"\n"
