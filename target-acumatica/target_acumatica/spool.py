"""A journal stream's rows on local disk until the end of the input, read back journal by journal.

A journal's rows may arrive anywhere in the input, so nothing can be posted before it ends; holding
the rows in memory made the target grow with its input. Each row is written, as received, to a
private SQLite database (a temporary file removed when it is closed; SQLite keeps a small page cache)
under its key properties: a row with the key of an earlier one replaces it in the place of the first,
the last one wins. At the end the rows are read back one group at a time, in the order the groups
first appear, so memory holds one journal, whatever the number of rows and journals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import msgspec
from singer_sdk.contrib.msgspec import decoder

from target_acumatica.journals import JournalMapping
from target_acumatica.mapping import RowError

#: Numbers are written as their exact text and read back as the reader decodes them (Decimal).
_encoder = msgspec.json.Encoder(decimal_format="number")
_group_encoder = msgspec.json.Encoder()


class JournalSpool:
    """The rows of one journal stream, de-duplicated on key, grouped by the mapping's ``group_by``."""

    def __init__(self, mapping: JournalMapping) -> None:
        self.mapping = mapping
        # "" is SQLite's private temporary database: on disk, deleted when the connection closes.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("BEGIN")
        # place: where the key first appeared; number: the row number of the row kept (the last).
        self._db.execute(
            "CREATE TABLE row (key BLOB PRIMARY KEY, place INTEGER NOT NULL, number INTEGER NOT NULL, "
            "grp BLOB, record BLOB NOT NULL)"
        )
        self._places = 0
        self.rows = 0
        self.repeated = 0

    def add(self, key: bytes, number: int, record: dict[str, Any]) -> None:
        """Keep a row; a later row with the same key replaces it, in its place."""
        try:
            group = _group_encoder.encode(self.mapping.group_of(record, number))
        except RowError:
            group = None  # reported with the row when the journals are built
        self._places += 1
        (place,) = self._db.execute(
            "INSERT INTO row (key, place, number, grp, record) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET number = excluded.number, grp = excluded.grp, "
            "record = excluded.record RETURNING place",
            (key, self._places, number, group, _encoder.encode(record)),
        ).fetchone()
        if place == self._places:
            self.rows += 1
        else:
            self.repeated += 1

    def journals(self) -> int:
        count: int = self._db.execute("SELECT COUNT(DISTINCT grp) FROM row WHERE grp IS NOT NULL").fetchone()[
            0
        ]
        return count

    def ungrouped(self) -> list[tuple[int, dict[str, Any]]]:
        """Rows with an empty group column, in input order."""
        query = "SELECT number, record FROM row WHERE grp IS NULL ORDER BY place"
        return [(number, decoder.decode(record)) for number, record in self._db.execute(query)]

    def groups(self) -> Iterator[tuple[tuple[str, ...], list[tuple[int, dict[str, Any]]]]]:
        """Each group's values and rows (in input order), groups in the order they first appear."""
        self._index()
        order = self._db.execute("SELECT grp FROM row WHERE grp IS NOT NULL GROUP BY grp ORDER BY MIN(place)")
        rows = self._db.cursor()
        for (group,) in order:
            members = rows.execute("SELECT number, record FROM row WHERE grp = ? ORDER BY place", (group,))
            yield (
                tuple(msgspec.json.decode(group)),
                [(number, decoder.decode(record)) for number, record in members],
            )

    def _index(self) -> None:
        if self._db.in_transaction:
            self._db.execute("CREATE INDEX row_group ON row (grp, place)")
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
