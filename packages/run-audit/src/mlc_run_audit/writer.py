"""How every tap here writes Singer messages: msgspec, and stdout flushed at every message but RECORD.

The SDK's ``MsgSpecWriter`` flushes stdout after each message: one write to the pipe per record, and
one wake-up of whoever reads it (Meltano relays every line of a tap's output to its target). Records
between two other messages may wait in stdout's buffer instead: they reach the pipe in blocks, and
every STATE (and SCHEMA, BATCH, ...) still flushes them before it goes, so a STATE is never ahead of a
record it covers. Python flushes the rest at exit; a tap killed before then loses only records that
no STATE has covered yet, which the next run reads again.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, RecordMessage


class BufferedRecordWriter(MsgSpecWriter):
    """``MsgSpecWriter`` that leaves RECORD messages in stdout's buffer (see the module)."""

    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
