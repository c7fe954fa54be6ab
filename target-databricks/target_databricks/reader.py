"""The target's reader of Singer messages: msgspec over bytes, keeping each line as received.

The SDK's ``MsgSpecReader`` reads ``sys.stdin`` as text, so every line is decoded from UTF-8 into a
``str`` before msgspec parses it, and the target then encoded each RECORD message again for its
failed-batch file. This reader takes the bytes of standard input as they come, parses them with the
same decoder settings (numbers with a fraction or exponent become exact ``Decimal`` values), and keeps
the last line with the message parsed from it, so the failed-batch file holds the line itself.
"""

from __future__ import annotations

import logging
import sys
from decimal import Decimal
from typing import IO, Any, cast

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

logger = logging.getLogger(__name__)
_decoder = msgspec.json.Decoder(float_hook=Decimal)


class LineKeepingReader(GenericSingerReader[bytes]):
    """Parses Singer messages from bytes (or the text lines of ``--input``) and keeps the last line."""

    def __init__(self) -> None:
        super().__init__()
        self._last: tuple[dict[str, Any] | None, bytes] = (None, b"")

    @property
    def default_input(self) -> IO[bytes]:
        """Standard input's bytes. (A text stream without bytes in its place, such as a StringIO, gives
        str lines, which ``deserialize_json`` takes too.)"""
        return cast("IO[bytes]", getattr(sys.stdin, "buffer", sys.stdin))

    def deserialize_json(self, line: bytes | str) -> dict[str, Any]:
        """The message of one line; a line that is not JSON fails as the SDK's reader fails it."""
        try:
            message: dict[str, Any] = _decoder.decode(line)
        except msgspec.DecodeError as exc:
            text = line.decode(errors="replace") if isinstance(line, bytes) else line
            logger.exception("Unable to parse:\n%s", text)
            raise InvalidInputLine(f"Unable to parse line as JSON: {text}") from exc
        self._last = (message, line if isinstance(line, bytes) else line.encode())
        return message

    def line_of(self, message: dict[str, Any]) -> bytes | None:
        """The line ``message`` was parsed from, ending in a newline, when it is the last message this
        reader parsed (a record of a BATCH message's file was not read from a line)."""
        parsed, line = self._last
        if parsed is not message:
            return None
        return line if line.endswith(b"\n") else line + b"\n"
